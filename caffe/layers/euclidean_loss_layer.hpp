#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// EuclideanLoss: loss = 1/(2N) sum ||a - b||^2 over the two bottoms, N = shape(0) of a.
// Backward: da = (w/N)(a - b) and db = -(w/N)(a - b), w the loss weight (top diff).
class EuclideanLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "EuclideanLoss"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }
  bool IsLoss() const override { return true; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif

 private:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);

  // Scale of a - b in the gradient of bottom i: +w/N for a, -w/N for b.
  float gradient_scale(const BlobVec& top, const BlobVec& bottom, int i) const;
  // sum ||a - b||^2 / (2N), 0 for an empty batch.
  static float loss_from(float sum_sq, const Blob& a);

  Blob difference_;  // a - b
};

// out = a - b.
struct Difference {
  const float* a;
  const float* b;
  float* out;
  CAFFE_HOST_DEVICE void operator()(long long i) const { out[i] = a[i] - b[i]; }
};

}  // namespace caffe
