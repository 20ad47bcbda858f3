#include "caffe/layers/prelu_layer.hpp"

#include <algorithm>
#include <memory>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

// The channel count (axis 1) of PReLU's input; errors for inputs without that axis.
int channels_of(const Blob& input) {
  if (input.num_axes() < 2) {
    fail("needs an input with at least 2 axes (N, C, ...) to find its channels; got shape ",
         input.shape_string());
  }
  return input.shape(1);
}

}  // namespace

void PReLULayer::LayerSetUp(const BlobVec& bottom, const BlobVec& /*top*/) {
  const PReLUParameter& param = layer_param_.prelu_param();
  const int channels = channels_of(*bottom[0]);
  channel_shared_ = param.channel_shared();
  slope_count_ = channel_shared_ ? 1 : channels;
  if (blobs_.empty()) {
    const std::vector<int> shape =
        channel_shared_ ? std::vector<int>{} : std::vector<int>{channels};
    blobs_.push_back(std::make_shared<Blob>(shape));
    FillerParameter filler = param.filler();
    if (!param.has_filler()) {
      filler.set_type("constant");
      filler.set_value(0.25f);
    }
    fill_blob(filler, blobs_[0].get(), filler_stream(name(), 0));
  } else if (blobs_.size() != 1 || blobs_[0]->count() != slope_count_) {
    fail("the model gives ", blobs_.size(), " parameter blob(s) of shape ",
         blobs_[0]->shape_string(), ", but the layer needs one blob of ", slope_count_,
         " slope(s) (", channel_shared_ ? "channel_shared" : "one per channel", ")");
  }
}

void PReLULayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  NeuronLayer::Reshape(bottom, top);
  const Blob& input = *bottom[0];
  const int channels = channels_of(input);
  if (!channel_shared_ && channels != slope_count_) {
    fail("the input has ", channels, " channels (shape ", input.shape_string(), "), but the layer ",
         "was set up with ", slope_count_, " slopes");
  }
  const int examples = input.shape(0);
  inner_ = input.count(2) * (channel_shared_ ? channels : 1);
  slope_terms_.ReshapeLike(input);
  per_example_.Reshape({examples * slope_count_});
  const int ones = std::max({inner_, examples, 1});
  if (ones_.count() != ones) {  // refilled only on a change: a refill would recopy it to the GPU
    ones_.Reshape({ones});
    cpu_set(ones, 1.0f, ones_.mutable_cpu_data());
  }
  if (top[0] == bottom[0]) input_copy_.ReshapeLike(input);
}

const float* PReLULayer::input_on(Mode mode, const BlobVec& top, const BlobVec& bottom) const {
  return top[0] == bottom[0] ? input_copy_.data_on(mode) : bottom[0]->data_on(mode);
}

void PReLULayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  if (top[0] == bottom[0]) {
    blas(mode).copy(count, bottom[0]->data_on(mode), input_copy_.mutable_data_on(mode));
  }
  const ChannelSlopes slopes{blobs_[0]->data_on(mode), inner_, slope_count_};
  for_each(mode, count,
           PReLUForward{bottom[0]->data_on(mode), top[0]->mutable_data_on(mode), slopes});
}

void PReLULayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const ChannelSlopes slopes{blobs_[0]->data_on(mode), inner_, slope_count_};
  for_each(mode, bottom[0]->count(),
           PReLUBackward{input_on(mode, top, bottom), top[0]->diff_on(mode),
                         bottom[0]->mutable_diff_on(mode), slopes});
}

void PReLULayer::BackwardSlopes(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const int count = bottom[0]->count();
  if (!param_propagate_down(0) || count == 0) return;
  float* terms = slope_terms_.mutable_data_on(mode);
  for_each(mode, count, PReLUSlopeTerms{input_on(mode, top, bottom), top[0]->diff_on(mode), terms});
  // terms is [N · slopes, inner]: sum each row, then add up the examples of each slope.
  const int examples = bottom[0]->shape(0);
  const float* ones = ones_.data_on(mode);
  float* per_example = per_example_.mutable_data_on(mode);
  blas(mode).gemv(Trans::No, examples * slope_count_, inner_, 1.0f, terms, ones, 0.0f, per_example);
  blas(mode).gemv(Trans::Yes, examples, slope_count_, 1.0f, per_example, ones, 1.0f,
                  blobs_[0]->mutable_diff_on(mode));
}

REGISTER_LAYER("PReLU", PReLULayer);

}  // namespace caffe
