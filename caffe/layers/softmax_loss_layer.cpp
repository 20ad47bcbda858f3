#include "caffe/layers/softmax_loss_layer.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "caffe/core/layer_registry.hpp"
#include "caffe/layers/loss_normalization.hpp"
#include "caffe/layers/softmax_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

void SoftmaxWithLossLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const LossParameter& param = layer_param_.loss_param();
  ignore_ = IgnoreLabel{param.has_ignore_label(), param.ignore_label()};
  normalization_ = normalization_mode(param, LossParameter::VALID);
  if (layer_param_.loss_weight_size() > 1 && layer_param_.loss_weight(1) != 0.0f) {
    fail("the probabilities (top 1) are an output only and cannot carry a loss_weight (got ",
         layer_param_.loss_weight(1), ")");
  }
}

void SoftmaxWithLossLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  split_ = split_at_axis(*bottom[0], layer_param_.softmax_param().axis());
  check_label_count(*bottom[1], split_);
  top[0]->Reshape(std::vector<int>{});
  prob_.ReshapeLike(*bottom[0]);
  loss_terms_.Reshape({split_.positions()});
  if (top.size() > 1) top[1]->ReshapeLike(*bottom[0]);
}

float SoftmaxWithLossLayer::normalizer() const {
  return loss_normalizer(normalization_, split_.outer, split_.positions(), valid_count_);
}

bool SoftmaxWithLossLayer::wants_score_gradient(const std::vector<bool>& propagate_down) {
  if (propagate_down.size() > 1 && propagate_down[1]) {
    fail("cannot backpropagate to the labels (bottom 1); set propagate_down: false for them");
  }
  return propagate_down[0];
}

void SoftmaxWithLossLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  valid_count_ = count_valid_labels(*bottom[1], split_, ignore_);
  softmax_forward_cpu(split_, bottom[0]->cpu_data(), prob_.mutable_cpu_data());
  const float* prob = prob_.cpu_data();
  const float* labels = bottom[1]->cpu_data();
  double loss = 0;
  for (int position = 0; position < split_.positions(); ++position) {
    const int label = static_cast<int>(labels[position]);
    if (ignore_.matches(label)) continue;
    loss -= std::log(std::max(prob[split_.offset_at(position, label)], FLT_MIN));
  }
  top[0]->mutable_cpu_data()[0] = static_cast<float>(loss / normalizer());
  if (top.size() > 1) cpu_copy(prob_.count(), prob, top[1]->mutable_cpu_data());
}

void SoftmaxWithLossLayer::BackwardOn(Mode mode, const BlobVec& top,
                                      const std::vector<bool>& propagate_down,
                                      const BlobVec& bottom) {
  if (!wants_score_gradient(propagate_down)) return;
  const SoftmaxLossGradient gradient{split_,
                                     ignore_,
                                     top[0]->cpu_diff()[0] / normalizer(),
                                     bottom[1]->data_on(mode),
                                     prob_.data_on(mode),
                                     bottom[0]->mutable_diff_on(mode)};
  for_each(mode, split_.positions(), split_.axis_dim, gradient);
}

void SoftmaxWithLossLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                        const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("SoftmaxWithLoss", SoftmaxWithLossLayer);

}  // namespace caffe
