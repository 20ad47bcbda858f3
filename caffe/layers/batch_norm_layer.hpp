#pragma once

#include <cmath>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_broadcast.hpp"
#include "caffe/layers/channel_sums.hpp"

namespace caffe {

// BatchNorm over axis 1 of an (N, C, ...) input, per channel c:  y = (x − μ_c) / sqrt(σ²_c + eps).
// Batch statistics (use_global_stats false, the TRAIN default): μ, σ² over the m = N·H·W values of
// c, and the stored sums are updated: s ← f·s + 1, μ_sum ← f·μ_sum + μ, σ²_sum ← f·σ²_sum +
// m/(m−1)·σ² (f = moving_average_fraction).  Global statistics (the TEST default): μ = μ_sum / s,
// σ² = σ²_sum / s (both 0 when s = 0).  Backward: dx = (dy − mean(dy) − y·mean(dy·y)) /
// sqrt(σ² + eps) with batch statistics, dx = dy / sqrt(σ² + eps) with global ones.
// Blobs (never learned, lr_mult forced to 0): μ_sum [C], σ²_sum [C], s [1].  No scale or shift:
// a Scale layer follows.  In-place use is allowed.
class BatchNormLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "BatchNorm"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
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
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom);
  void ComputeBatchStatistics(Mode mode, const float* x);
  void UpdateStoredStatistics(Mode mode);
  void FreezeStatistics();
  int channels() const { return split_.axis_dim; }
  int values_per_channel() const { return split_.outer * split_.inner; }  // m

  bool use_global_stats_ = false;
  float moving_average_fraction_ = 0.999f;
  float eps_ = 1e-5f;
  AxisSplit split_;  // [N, C, H·W]
  ChannelSums sums_;
  // Per channel, from the last forward: the mean, the batch variance (batch statistics only)
  // and 1 / sqrt(σ² + eps).
  Blob mean_, variance_, inv_std_;
  // Batch statistics only: y as the forward wrote it (a later in-place layer may overwrite the
  // top).
  Blob normalized_;
  Blob dy_mean_, dy_y_mean_;  // per channel, backward with batch statistics
  std::vector<double> plane_magnitudes_;  // grid_sum_cpu scratch: Σ|dx| per group of planes
};

// first = (x − mean[c])²: the terms of the batch variance (caffe/layers/channel_sums.hpp).
struct SquaredDeviationTerms {
  static constexpr int kSums = 1;
  const float* x;
  const float* mean;
  CAFFE_HOST_DEVICE float first(long long i, int c) const {
    const float deviation = x[i] - mean[c];
    return deviation * deviation;
  }
};

// y = (x − mean[c]) · inv_std[c], also into `kept` when not null; y may alias x.
struct Normalize {
  AxisSplit split;
  const float* x;
  const float* mean;
  const float* inv_std;
  float* y;
  float* kept;
  CAFFE_HOST_DEVICE void operator()(int plane, int k) const {
    const long long i = grid_element(split, plane, k);
    const int c = plane % split.axis_dim;
    const float normalized = (x[i] - mean[c]) * inv_std[c];
    y[i] = normalized;
    if (kept) kept[i] = normalized;
  }
};

// Per channel: inv_std = 1 / sqrt(variance + eps).
struct InverseStd {
  const float* variance;
  float eps;
  float* inv_std;
  CAFFE_HOST_DEVICE void operator()(long long c) const {
    inv_std[c] = 1.0f / sqrtf(variance[c] + eps);
  }
};

// Per channel, the global statistics from the stored sums and the factor s (read on the device,
// so the host never waits for it): mean = μ_sum / s, inv_std = 1 / sqrt(σ²_sum / s + eps).
struct GlobalStatistics {
  const float* mean_sum;
  const float* variance_sum;
  const float* scale_factor;
  float eps;
  float* mean;
  float* inv_std;
  CAFFE_HOST_DEVICE void operator()(long long c) const {
    const float s = scale_factor[0];
    const float normalizer = s == 0.0f ? 0.0f : 1.0f / s;
    mean[c] = mean_sum[c] * normalizer;
    inv_std[c] = 1.0f / sqrtf(variance_sum[c] * normalizer + eps);
  }
};

// Per channel, the moving sums: μ_sum ← f·μ_sum + μ, σ²_sum ← f·σ²_sum + correction·σ².
struct MovingSums {
  float fraction;
  float correction;  // m / (m − 1): the unbiased variance
  const float* mean;
  const float* variance;
  float* mean_sum;
  float* variance_sum;
  CAFFE_HOST_DEVICE void operator()(long long c) const {
    mean_sum[c] = fraction * mean_sum[c] + mean[c];
    variance_sum[c] = fraction * variance_sum[c] + correction * variance[c];
  }
};

// The factor the stored sums are divided by: s ← f·s + 1 (one element).
struct MovingScaleFactor {
  float fraction;
  float* scale_factor;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    scale_factor[i] = fraction * scale_factor[i] + 1.0f;
  }
};

// dx = (dy − dy_mean[c] − y · dy_y_mean[c]) · inv_std[c]; dx may alias dy.
struct BatchNormInputGradient {
  AxisSplit split;
  const float* y;
  const float* dy;
  const float* dy_mean;
  const float* dy_y_mean;
  const float* inv_std;
  float* dx;
  // Writes dx[i] and returns |dx[i]| (for grid_sum_cpu; for_each drops it).
  CAFFE_HOST_DEVICE float operator()(int plane, int k) const {
    const long long i = grid_element(split, plane, k);
    const int c = plane % split.axis_dim;
    const float value = (dy[i] - dy_mean[c] - y[i] * dy_y_mean[c]) * inv_std[c];
    dx[i] = value;
    return fabsf(value);
  }
};

}  // namespace caffe
