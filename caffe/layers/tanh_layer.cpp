#include "caffe/layers/tanh_layer.hpp"

#include <cmath>

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void TanHLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
  for (int i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
}

void TanHLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const int count = top[0]->count();
  const float* y = top[0]->cpu_data();
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
  for (int i = 0; i < count; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

REGISTER_LAYER("TanH", TanHLayer);

}  // namespace caffe
