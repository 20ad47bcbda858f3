#include "caffe/layers/euclidean_loss_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void EuclideanLossLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& a = *bottom[0];
  const Blob& b = *bottom[1];
  if (a.num_axes() == 0 || b.num_axes() == 0 || a.shape(0) != b.shape(0) || a.count() != b.count()) {
    fail("the two bottoms must have the same first dimension and the same number of values; got ",
         "shapes ", a.shape_string(), " and ", b.shape_string());
  }
  difference_.ReshapeLike(a);
  top[0]->Reshape(std::vector<int>{});
}

float EuclideanLossLayer::gradient_scale(const BlobVec& top, const BlobVec& bottom, int i) const {
  const float sign = i == 0 ? 1.0f : -1.0f;
  const int n = bottom[0]->shape(0);
  return n > 0 ? sign * top[0]->cpu_diff()[0] / n : 0.0f;
}

float EuclideanLossLayer::loss_from(float sum_sq, const Blob& a) {
  return a.shape(0) > 0 ? sum_sq / (2.0f * a.shape(0)) : 0.0f;
}

void EuclideanLossLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  float* difference = difference_.mutable_data_on(mode);
  for_each(mode, count, Difference{bottom[0]->data_on(mode), bottom[1]->data_on(mode), difference});
  const float sum_sq = blas(mode).dot(count, difference, difference);
  top[0]->mutable_cpu_data()[0] = loss_from(sum_sq, *bottom[0]);
}

void EuclideanLossLayer::BackwardOn(Mode mode, const BlobVec& top,
                                    const std::vector<bool>& propagate_down,
                                    const BlobVec& bottom) {
  for (int i = 0; i < 2; ++i) {
    if (!propagate_down[i]) continue;
    float* diff = bottom[i]->mutable_diff_on(mode);
    blas(mode).copy(difference_.count(), difference_.data_on(mode), diff);
    blas(mode).scal(difference_.count(), gradient_scale(top, bottom, i), diff);
  }
}

void EuclideanLossLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void EuclideanLossLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                      const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("EuclideanLoss", EuclideanLossLayer);

}  // namespace caffe
