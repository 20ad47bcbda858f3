#include "caffe/layers/bias_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void BiasLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const BiasParameter& param = layer_param_.bias_param();
  bias_is_bottom_ = operand_is_bottom(bottom, top, "bias");
  std::vector<OperandSpec> specs;
  if (!bias_is_bottom_) {
    specs.push_back({learned_operand_shape(*bottom[0], param.axis(), param.num_axes()),
                     filler_or_constant(param.has_filler(), param.filler(), 0.0f), "bias"});
  }
  init_operand_blobs(name(), specs, &blobs_);
}

void BiasLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  split_ =
      broadcast_split(*bottom[0], layer_param_.bias_param().axis(), BiasOperand(bottom).shape(),
                      bias_is_bottom_ ? "the bias (bottom 1)" : "the bias blob");
  if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
}

void BiasLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  for_each(mode, plane_count(split_), split_.inner,
           BroadcastAffine{split_, bottom[0]->data_on(mode), nullptr,
                           BiasOperand(bottom).data_on(mode), top[0]->mutable_data_on(mode)});
}

void BiasLayer::BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                           const BlobVec& bottom) {
  const float* dy = top[0]->diff_on(mode);
  const OperandGradient bias_gradient = operand_gradient(
      mode, bias_is_bottom_, bias_is_bottom_ ? propagate_down[1] : param_propagate_down(0),
      &BiasOperand(bottom));
  if (bias_gradient.diff) {
    sums_.Sum(mode, split_, ValueTerms{dy}, {bias_gradient.diff, 1.0f, bias_gradient.beta});
  }
  // dx = dy: nothing to do in place.
  if (propagate_down[0] && top[0] != bottom[0]) {
    blas(mode).copy(top[0]->count(), dy, bottom[0]->mutable_diff_on(mode));
  }
}

void BiasLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void BiasLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("Bias", BiasLayer);

}  // namespace caffe
