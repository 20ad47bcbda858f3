#include "caffe/layers/scale_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void ScaleLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const ScaleParameter& param = layer_param_.scale_param();
  scale_is_bottom_ = operand_is_bottom(bottom, top, "scale");
  const std::vector<int> scale_shape =
      scale_is_bottom_ ? bottom[1]->shape()
                       : learned_operand_shape(*bottom[0], param.axis(), param.num_axes());
  std::vector<OperandSpec> specs;
  if (!scale_is_bottom_) {
    specs.push_back(
        {scale_shape, filler_or_constant(param.has_filler(), param.filler(), 1.0f), "scale"});
  }
  if (param.bias_term()) {
    bias_index_ = static_cast<int>(specs.size());
    specs.push_back({scale_shape,
                     filler_or_constant(param.has_bias_filler(), param.bias_filler(), 0.0f),
                     "bias"});
  }
  init_operand_blobs(name(), specs, &blobs_);
}

void ScaleLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& scale = ScaleOperand(bottom);
  split_ = broadcast_split(*bottom[0], layer_param_.scale_param().axis(), scale.shape(),
                           scale_is_bottom_ ? "the scale (bottom 1)" : "the scale blob");
  if (bias_index_ >= 0 && blobs_[bias_index_]->shape() != scale.shape()) {
    fail("the bias blob of shape ", blobs_[bias_index_]->shape_string(),
         " does not match the scale of shape ", scale.shape_string());
  }
  if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
}

void ScaleLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const float* x = bottom[0]->data_on(mode);
  // In place, y overwrites x, which ds needs: keep a copy when ds may be asked for.
  const bool scale_learns = scale_is_bottom_ || param_propagate_down(0);
  float* x_copy = nullptr;
  if (top[0] == bottom[0] && scale_learns) {
    saved_input_.ReshapeLike(*bottom[0]);
    x_copy = saved_input_.mutable_data_on(mode);
  }
  const float* bias = bias_index_ >= 0 ? blobs_[bias_index_]->data_on(mode) : nullptr;
  for_each(mode, plane_count(split_), split_.inner,
           BroadcastAffine{split_, x, ScaleOperand(bottom).data_on(mode), bias,
                           top[0]->mutable_data_on(mode), x_copy});
}

void ScaleLayer::BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                            const BlobVec& bottom) {
  const float* dy = top[0]->diff_on(mode);
  // ds and db first: in place, dx overwrites dy.
  const OperandGradient scale_gradient = operand_gradient(
      mode, scale_is_bottom_, scale_is_bottom_ ? propagate_down[1] : param_propagate_down(0),
      &ScaleOperand(bottom));
  const bool bias_wanted = bias_index_ >= 0 && param_propagate_down(bias_index_);
  const SumTarget bias_gradient = {
      bias_wanted ? blobs_[bias_index_]->mutable_diff_on(mode) : nullptr, 1.0f, 1.0f};
  if (scale_gradient.diff) {
    const float* x = top[0] == bottom[0] ? saved_input_.data_on(mode) : bottom[0]->data_on(mode);
    sums_.Sum(mode, split_, ProductAndValueTerms{dy, x},
              {scale_gradient.diff, 1.0f, scale_gradient.beta}, bias_gradient);
  } else if (bias_gradient.sums) {
    sums_.Sum(mode, split_, ValueTerms{dy}, bias_gradient);
  }
  if (propagate_down[0]) {
    for_each(mode, plane_count(split_), split_.inner,
             BroadcastAffine{split_, dy, ScaleOperand(bottom).data_on(mode), nullptr,
                             bottom[0]->mutable_diff_on(mode)});
  }
}

void ScaleLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void ScaleLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("Scale", ScaleLayer);

}  // namespace caffe
