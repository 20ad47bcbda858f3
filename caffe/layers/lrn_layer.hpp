#pragma once

#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"
#include "caffe/util/engine.hpp"

namespace caffe {

class DnnlLrn;

// Local Response Normalization (type "LRN", lrn_param), BVLC Caffe's semantics on 4-D NCHW
// blobs, n = local_size (odd), sums over a window centred on each element, zero outside:
//   ACROSS_CHANNELS: s = k + (alpha / n) · Σ x²   over n neighbouring channels at (h, w);
//   WITHIN_CHANNEL:  s = 1 + (alpha / n²) · Σ x²  over an n x n square in the channel (BVLC
//                    averages x² with AVE pooling, whose divisor is n² there, and ignores k);
//   y = x · s^(−beta).   Backward, with W(j) the window of j (windows are symmetric):
//   dx_j = dy_j · s_j^(−beta) − 2 · beta · (alpha / N) · x_j · Σ_{i ∈ W(j)} dy_i · y_i / s_i,
//   N = n or n².
class LRNLayer : public Layer {
 public:
  explicit LRNLayer(const LayerParameter& param);
  ~LRNLayer() override;
  const char* type() const override { return "LRN"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  // The implementation that runs in `mode`, as chosen by the last Reshape in that mode.
  Backend backend(Mode mode) const { return backends_[mode == Mode::GPU]; }

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

  bool across_ = true;
  int local_size_ = 5;
  float alpha_ = 1.0f, beta_ = 0.75f, k_ = 1.0f;
  int shape_[4] = {0, 0, 0, 0};  // num, channels, height, width
  // data: s of the last forward pass; diff: backward's dy · y / s.
  Blob scale_;
  Backend backends_[2] = {Backend::kCaffe, Backend::kCaffe};  // [CPU, GPU]
  // The backend of the last forward over the current shape: backward needs its scales (ours)
  // or its workspace (oneDNN's).
  std::optional<Backend> forward_backend_;
#ifdef CAFFE_USE_DNNL
  std::unique_ptr<DnnlLrn> dnnl_;
#endif
};

// The window sums over the blob seen as a grid: ACROSS as (num · channels, height · width), WITHIN
// as (num · channels · height, width), so that a row gives the channel (or the row in the plane)
// without a division per element.
struct LrnWindow {
  int channels, height, width;
  int half;  // (local_size − 1) / 2
  bool across;

  CAFFE_HOST_DEVICE int rows(int num) const {
    return across ? num * channels : num * channels * height;
  }
  CAFFE_HOST_DEVICE int cols() const { return across ? height * width : width; }

  // Σ over the window of element (row, col) of v (or of v² when `squared`).
  CAFFE_HOST_DEVICE float sum(const float* v, int row, int col, bool squared) const {
    float total = 0.0f;
    if (across) {
      const long long plane = static_cast<long long>(height) * width;
      const int c = row % channels;
      const float* at = v + (static_cast<long long>(row) - c) * plane + col;  // channel 0
      const int last = c + half < channels - 1 ? c + half : channels - 1;
      for (int cc = c - half > 0 ? c - half : 0; cc <= last; ++cc) {
        const float t = at[cc * plane];
        total += squared ? t * t : t;
      }
      return total;
    }
    const int h = row % height;
    const float* in_plane = v + (static_cast<long long>(row) - h) * width;
    const int last_h = h + half < height - 1 ? h + half : height - 1;
    const int first_w = col - half > 0 ? col - half : 0;
    const int last_w = col + half < width - 1 ? col + half : width - 1;
    for (int hh = h - half > 0 ? h - half : 0; hh <= last_h; ++hh) {
      for (int ww = first_w; ww <= last_w; ++ww) {
        const float t = in_plane[hh * width + ww];
        total += squared ? t * t : t;
      }
    }
    return total;
  }
};

// s^(−beta).  For BVLC's usual beta = 0.75 as 1 / (√s · ⁴√s): square roots cost a fraction of
// a general power, which dominated the host passes (measured 2x on CaffeNet's LRN shapes).
CAFFE_HOST_DEVICE inline float inverse_power(float s, float beta) {
  if (beta == 0.75f) {
    const float root = sqrtf(s);
    return 1.0f / (root * sqrtf(root));
  }
  return powf(s, -beta);
}

// s = offset + coeff · Σ x², y = x · s^(−beta); s is kept for backward.
struct LrnForward {
  LrnWindow window;
  float offset, coeff, beta;
  const float* x;
  float* scale;
  float* y;
  CAFFE_HOST_DEVICE void operator()(int row, int col) const {
    const long long i = static_cast<long long>(row) * window.cols() + col;
    const float s = offset + coeff * window.sum(x, row, col, true);
    scale[i] = s;
    y[i] = x[i] * inverse_power(s, beta);
  }
};

// ratio = dy · y / s, the term every window sum of backward adds up.
struct LrnRatio {
  const float* dy;
  const float* y;
  const float* scale;
  float* ratio;
  CAFFE_HOST_DEVICE void operator()(long long i) const { ratio[i] = dy[i] * y[i] / scale[i]; }
};

// dx = dy · s^(−beta) − 2 · beta · coeff · x · Σ ratio.
struct LrnBackward {
  LrnWindow window;
  float beta, ratio_coeff;
  const float* x;
  const float* dy;
  const float* scale;
  const float* ratio;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(int row, int col) const {
    const long long i = static_cast<long long>(row) * window.cols() + col;
    dx[i] = dy[i] * inverse_power(scale[i], beta) -
            ratio_coeff * x[i] * window.sum(ratio, row, col, false);
  }
};

}  // namespace caffe
