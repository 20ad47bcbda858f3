#include "caffe/layers/embed_layer.hpp"

#include <climits>
#include <cmath>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

void EmbedLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const EmbedParameter& param = layer_param_.embed_param();
  if (param.num_output() == 0 || param.num_output() > INT_MAX) {
    fail("embed_param.num_output must be set to a positive number, got ", param.num_output());
  }
  if (param.input_dim() == 0 || param.input_dim() > INT_MAX) {
    fail("embed_param.input_dim (the number of distinct ids) must be set to a positive number, got ",
         param.input_dim());
  }
  if (top[0] == bottom[0]) fail("cannot run in place; give the top its own name");
  num_output_ = static_cast<int>(param.num_output());
  input_dim_ = static_cast<int>(param.input_dim());
  bias_term_ = param.bias_term();
  if (!blobs_.empty()) {
    CheckLoadedBlobs();
    return;
  }
  blobs_.push_back(std::make_shared<Blob>(std::vector<int>{input_dim_, num_output_}));
  fill_blob(param.weight_filler(), blobs_[0].get(), filler_stream(name(), 0));
  if (bias_term_) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{num_output_}));
    fill_blob(param.bias_filler(), blobs_[1].get(), filler_stream(name(), 1));
  }
}

void EmbedLayer::CheckLoadedBlobs() const {
  const size_t expected = bias_term_ ? 2 : 1;
  if (blobs_.size() != expected) {
    fail("the model gives ", blobs_.size(), " parameter blob(s), but the layer has ", expected,
         bias_term_ ? " (weights and bias)" : " (weights only: bias_term is false)");
  }
  const std::vector<int> weight_shape{input_dim_, num_output_};
  if (blobs_[0]->shape() != weight_shape) {
    fail("the weight blob from the model has shape ", blobs_[0]->shape_string(),
         ", expected [input_dim, num_output] = ", shape_string(weight_shape));
  }
  if (bias_term_ && blobs_[1]->shape() != std::vector<int>{num_output_}) {
    fail("the bias blob from the model has shape ", blobs_[1]->shape_string(), ", expected ",
         shape_string({num_output_}));
  }
}

void EmbedLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  std::vector<int> top_shape = bottom[0]->shape();
  top_shape.push_back(num_output_);
  top[0]->Reshape(top_shape);
  if (bias_term_ && ones_.count() != bottom[0]->count()) {
    ones_.Reshape({bottom[0]->count()});
    cpu_set(ones_.count(), 1.0f, ones_.mutable_cpu_data());
  }
}

void EmbedLayer::CheckIds(const Blob& ids) const {
  const float* values = ids.cpu_data();
  for (int position = 0; position < ids.count(); ++position) {
    const float id = values[position];
    if (!(id >= 0.0f && id < static_cast<float>(input_dim_) && id == std::floor(id))) {
      fail("id ", id, " at position ", position, " of the ids (shape ", ids.shape_string(),
           ") is not an integer in [0, input_dim = ", input_dim_, ")");
    }
  }
}

void EmbedLayer::RejectIdGradient(const std::vector<bool>& propagate_down) {
  if (propagate_down[0]) {
    fail("cannot propagate a gradient to its ids (bottom 0); set propagate_down: false for it");
  }
}

void EmbedLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  CheckIds(*bottom[0]);
  for_each(
      mode, bottom[0]->count(), num_output_,
      EmbedLookup{num_output_, bottom[0]->data_on(mode), blobs_[0]->data_on(mode),
                  bias_term_ ? blobs_[1]->data_on(mode) : nullptr, top[0]->mutable_data_on(mode)});
}

void EmbedLayer::BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                            const BlobVec& bottom) {
  RejectIdGradient(propagate_down);
  const int positions = bottom[0]->count();
  const float* top_diff = top[0]->diff_on(mode);
  if (param_propagate_down(0)) {
    constexpr long long kOneThread = LLONG_MAX;  // repeated ids: host threads would race
    for_each(mode, positions, num_output_,
             EmbedScatterAdd{num_output_, bottom[0]->data_on(mode), top_diff,
                             blobs_[0]->mutable_diff_on(mode)},
             kOneThread);
  }
  if (bias_term_ && param_propagate_down(1) && positions > 0) {
    blas(mode).gemv(Trans::Yes, positions, num_output_, 1.0f, top_diff, ones_.data_on(mode), 1.0f,
                    blobs_[1]->mutable_diff_on(mode));
  }
}

void EmbedLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void EmbedLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("Embed", EmbedLayer);

}  // namespace caffe
