#include "caffe/layers/sigmoid_cross_entropy_loss_layer.hpp"

#include "caffe/core/layer_registry.hpp"
#include "caffe/layers/loss_normalization.hpp"

namespace caffe {

void SigmoidCrossEntropyLossLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const LossParameter& param = layer_param_.loss_param();
  ignore_ = IgnoreLabel{param.has_ignore_label(), param.ignore_label()};
  normalization_ = normalization_mode(param, LossParameter::BATCH_SIZE);
}

void SigmoidCrossEntropyLossLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& scores = *bottom[0];
  const Blob& targets = *bottom[1];
  if (scores.count() != targets.count()) {
    fail("the scores (bottom 0, shape ", scores.shape_string(), ") and the targets (bottom 1, ",
         "shape ", targets.shape_string(), ") must have the same number of values");
  }
  terms_.ReshapeLike(scores);
  valid_.ReshapeLike(scores);
  top[0]->Reshape(std::vector<int>{});
}

void SigmoidCrossEntropyLossLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const Blob& scores = *bottom[0];
  const int count = scores.count();
  float* terms = terms_.mutable_data_on(mode);
  float* valid = valid_.mutable_data_on(mode);
  for_each(mode, count,
           SigmoidCrossEntropyTerms{scores.data_on(mode), bottom[1]->data_on(mode), terms, valid,
                                    ignore_},
           kComputeMinChunk);
  // valid holds 0 or 1, so its absolute sum counts the values and <terms, valid> sums the terms.
  const float valid_count = count > 0 ? blas(mode).asum(count, valid) : 0.0f;
  const float sum = count > 0 ? blas(mode).dot(count, terms, valid) : 0.0f;
  const int batch = scores.num_axes() > 0 ? scores.shape(0) : 1;
  normalizer_ = loss_normalizer(normalization_, batch, count, static_cast<int>(valid_count + 0.5f));
  top[0]->mutable_cpu_data()[0] = sum / normalizer_;
}

void SigmoidCrossEntropyLossLayer::BackwardOn(Mode mode, const BlobVec& top,
                                              const std::vector<bool>& propagate_down,
                                              const BlobVec& bottom) {
  if (propagate_down[1]) {
    fail("cannot backpropagate to the targets (bottom 1); set propagate_down: false for them");
  }
  if (!propagate_down[0]) return;
  const float scale = top[0]->cpu_diff()[0] / normalizer_;
  for_each(mode, bottom[0]->count(),
           SigmoidCrossEntropyGradient{bottom[0]->data_on(mode), bottom[1]->data_on(mode),
                                       bottom[0]->mutable_diff_on(mode), ignore_, scale},
           kComputeMinChunk);
}

void SigmoidCrossEntropyLossLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void SigmoidCrossEntropyLossLayer::Backward_cpu(const BlobVec& top,
                                                const std::vector<bool>& propagate_down,
                                                const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("SigmoidCrossEntropyLoss", SigmoidCrossEntropyLossLayer);

}  // namespace caffe
