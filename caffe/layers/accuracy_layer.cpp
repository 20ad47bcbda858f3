#include "caffe/layers/accuracy_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void AccuracyLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const AccuracyParameter& param = layer_param_.accuracy_param();
  ignore_ = IgnoreLabel{param.has_ignore_label(), param.ignore_label()};
  if (param.top_k() < 1) fail("accuracy_param.top_k must be at least 1");
  top_k_ = static_cast<int>(param.top_k());
}

void AccuracyLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  split_ = split_at_axis(*bottom[0], layer_param_.accuracy_param().axis());
  if (top_k_ > split_.axis_dim) {
    fail("accuracy_param.top_k ", top_k_, " exceeds the number of classes (", split_.axis_dim,
         ") on the class axis of the scores (shape ", bottom[0]->shape_string(), ")");
  }
  check_label_count(*bottom[1], split_);
  top[0]->Reshape(std::vector<int>{});
  if (top.size() > 1) top[1]->Reshape({split_.axis_dim});
  correct_.Reshape({split_.positions()});
}

void AccuracyLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  const int valid_count = count_valid_labels(*bottom[1], split_, ignore_);
  const float* scores = bottom[0]->cpu_data();
  const float* labels = bottom[1]->cpu_data();
  float* correct = correct_.mutable_cpu_data();
  for (int position = 0; position < split_.positions(); ++position) {
    const int label = static_cast<int>(labels[position]);
    correct[position] = !ignore_.matches(label) &&
                        label_in_top_k(scores + split_.offset_at(position, 0), split_.inner,
                                       split_.axis_dim, label, top_k_);
  }
  Tally(bottom, top, valid_count);
}

void AccuracyLayer::Tally(const BlobVec& bottom, const BlobVec& top, int valid_count) {
  const float* correct = correct_.cpu_data();
  int hits = 0;
  for (int position = 0; position < split_.positions(); ++position) hits += correct[position] != 0.0f;
  top[0]->mutable_cpu_data()[0] = valid_count > 0 ? static_cast<float>(hits) / valid_count : 0.0f;
  if (top.size() < 2) return;
  std::vector<int> class_hits(split_.axis_dim, 0);
  std::vector<int> class_total(split_.axis_dim, 0);
  const float* labels = bottom[1]->cpu_data();
  for (int position = 0; position < split_.positions(); ++position) {
    const int label = static_cast<int>(labels[position]);
    if (ignore_.matches(label)) continue;
    ++class_total[label];
    class_hits[label] += correct[position] != 0.0f;
  }
  float* per_class = top[1]->mutable_cpu_data();
  for (int c = 0; c < split_.axis_dim; ++c) {
    per_class[c] = class_total[c] > 0 ? static_cast<float>(class_hits[c]) / class_total[c] : 0.0f;
  }
}

void AccuracyLayer::Backward_cpu(const BlobVec& /*top*/, const std::vector<bool>& propagate_down,
                                 const BlobVec& /*bottom*/) {
  for (size_t i = 0; i < propagate_down.size(); ++i) {
    if (propagate_down[i]) {
      fail("has no gradient, but one was requested for bottom ", i,
           "; set propagate_down: false for its bottoms");
    }
  }
}

REGISTER_LAYER("Accuracy", AccuracyLayer);

}  // namespace caffe
