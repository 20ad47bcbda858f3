#include "caffe/layers/contrastive_loss_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void ContrastiveLossLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const ContrastiveLossParameter& param = layer_param_.contrastive_loss_param();
  rule_ = ContrastiveMargin{param.margin(), param.legacy_version()};
}

void ContrastiveLossLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& a = *bottom[0];
  const Blob& b = *bottom[1];
  const Blob& y = *bottom[2];
  if (a.num_axes() == 0 || a.shape() != b.shape()) {
    fail("the two inputs of each pair (bottoms 0 and 1) must have the same shape (N, C, ...); ",
         "got ", a.shape_string(), " and ", b.shape_string());
  }
  if (y.count() != a.shape(0)) {
    fail("the similarity labels (bottom 2, shape ", y.shape_string(), ") must hold one value ",
         "per pair: ", a.shape(0), " values for inputs of shape ", a.shape_string());
  }
  squared_distances_.Reshape({a.shape(0)});
  pair_losses_.Reshape({a.shape(0)});
  top[0]->Reshape(std::vector<int>{});
}

void ContrastiveLossLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const int pairs = bottom[0]->shape(0);
  float* losses = pair_losses_.mutable_data_on(mode);
  for_each(mode, pairs,
           ContrastivePairTerms{bottom[0]->data_on(mode), bottom[1]->data_on(mode),
                                bottom[2]->data_on(mode), squared_distances_.mutable_data_on(mode),
                                losses, bottom[0]->count(1), rule_},
           kComputeMinChunk);
  // Every pair loss is >= 0, so their sum is their absolute sum.
  const float sum = pairs > 0 ? blas(mode).asum(pairs, losses) : 0.0f;
  top[0]->mutable_cpu_data()[0] = pairs > 0 ? sum / (2.0f * pairs) : 0.0f;
}

void ContrastiveLossLayer::BackwardOn(Mode mode, const BlobVec& top,
                                      const std::vector<bool>& propagate_down,
                                      const BlobVec& bottom) {
  if (propagate_down[2]) {
    fail(
        "cannot backpropagate to the similarity labels (bottom 2); set propagate_down: false "
        "for them");
  }
  const int pairs = bottom[0]->shape(0);
  const int dim = bottom[0]->count(1);
  for (int i = 0; i < 2; ++i) {
    if (!propagate_down[i] || pairs == 0) continue;
    const float sign = i == 0 ? 1.0f : -1.0f;
    for_each(mode, pairs, dim,
             ContrastiveGradient{bottom[0]->data_on(mode), bottom[1]->data_on(mode),
                                 bottom[2]->data_on(mode), squared_distances_.data_on(mode),
                                 bottom[i]->mutable_diff_on(mode), dim, rule_,
                                 sign * top[0]->cpu_diff()[0] / pairs});
  }
}

void ContrastiveLossLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void ContrastiveLossLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                        const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("ContrastiveLoss", ContrastiveLossLayer);

}  // namespace caffe
