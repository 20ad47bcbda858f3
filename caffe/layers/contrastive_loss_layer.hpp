#pragma once

#include <cmath>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// The loss of one pair from its squared distance d², and the factor k of its gradient
// da = k · (a - b) (before the w/N scale).
struct ContrastiveMargin {
  float margin;
  bool legacy;

  // y truncated to an integer is not 0.
  static CAFFE_HOST_DEVICE bool similar(float y) { return y >= 1.0f || y <= -1.0f; }
  CAFFE_HOST_DEVICE float loss(float y, float squared_distance) const {
    if (similar(y)) return squared_distance;
    if (legacy) return fmaxf(margin - squared_distance, 0.0f);
    const float gap = fmaxf(margin - sqrtf(squared_distance), 0.0f);
    return gap * gap;
  }
  CAFFE_HOST_DEVICE float gradient_factor(float y, float squared_distance) const {
    if (similar(y)) return 1.0f;
    if (legacy) return margin - squared_distance > 0.0f ? -1.0f : 0.0f;
    const float distance = sqrtf(squared_distance);
    const float gap = margin - distance;
    // 1e-4 keeps the factor finite for coinciding points (BVLC's constant).
    return gap > 0.0f ? -gap / (distance + 1e-4f) : 0.0f;
  }
};

// ContrastiveLoss (Hadsell, Chopra & LeCun) over pairs: bottoms a and b (N, C, ...) of the same
// shape, similarity y (N values; a pair is similar when y, truncated to an integer, is not 0):
//   loss = 1/(2N) Σ_n [ y_n d_n² + (1 - y_n) max(margin - d_n, 0)² ],   d_n = ||a_n - b_n||,
// or max(margin - d_n², 0) for dissimilar pairs with legacy_version.
// Backward: da_n = -db_n = w/N (a_n - b_n) for similar pairs; for dissimilar pairs inside the
// margin, -w/N (margin - d_n)/(d_n + 1e-4) (a_n - b_n) (legacy: -w/N (a_n - b_n)), else 0.
// No gradient to y.
class ContrastiveLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "ContrastiveLoss"; }
  int ExactNumBottomBlobs() const override { return 3; }
  int ExactNumTopBlobs() const override { return 1; }
  bool IsLoss() const override { return true; }
  bool AllowForceBackward(int bottom_index) const override { return bottom_index < 2; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
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

  ContrastiveMargin rule_{1.0f, false};
  Blob squared_distances_;  // d_n²
  Blob pair_losses_;        // the bracket of the loss, per pair
};

// One thread per pair: d_n² and the pair's loss.
struct ContrastivePairTerms {
  const float* a;
  const float* b;
  const float* y;
  float* squared_distances;
  float* losses;
  int dim;
  ContrastiveMargin rule;
  CAFFE_HOST_DEVICE void operator()(long long n) const {
    float sum = 0.0f;
    for (long long i = n * dim; i < (n + 1) * dim; ++i) {
      const float difference = a[i] - b[i];
      sum += difference * difference;
    }
    squared_distances[n] = sum;
    losses[n] = rule.loss(y[n], sum);
  }
};

// Gradient of one of the two inputs, over the grid (pair n, component c).
struct ContrastiveGradient {
  const float* a;
  const float* b;
  const float* y;
  const float* squared_distances;
  float* diff;
  int dim;
  ContrastiveMargin rule;
  float scale;  // +w/N for a, -w/N for b
  CAFFE_HOST_DEVICE void operator()(int n, int c) const {
    const long long i = static_cast<long long>(n) * dim + c;
    diff[i] = scale * rule.gradient_factor(y[n], squared_distances[n]) * (a[i] - b[i]);
  }
};

}  // namespace caffe
