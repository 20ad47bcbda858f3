#include "caffe/layers/relu_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void ReLULayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  negative_slope_ = layer_param_.relu_param().negative_slope();
  if (negative_slope_ < 0 && top[0] == bottom[0]) {
    // y = s * x flips the sign of negative x, so the backward pass could no longer tell which
    // inputs were positive.
    fail("cannot run in place with negative_slope ", negative_slope_,
         " < 0; give the top its own name");
  }
}

void ReLULayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
  const float slope = negative_slope_;
  for (int i = 0; i < count; ++i) y[i] = x[i] > 0 ? x[i] : slope * x[i];
}

void ReLULayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const int count = bottom[0]->count();
  const float* x = bottom[0]->cpu_data();  // the top itself when in place (same sign, see class)
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
  const float slope = negative_slope_;
  for (int i = 0; i < count; ++i) dx[i] = x[i] > 0 ? dy[i] : slope * dy[i];
}

REGISTER_LAYER("ReLU", ReLULayer);

}  // namespace caffe
