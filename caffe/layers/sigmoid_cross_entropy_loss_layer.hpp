#pragma once

#include <cmath>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"
#include "caffe/layers/sigmoid_layer.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// SigmoidCrossEntropyLoss: cross-entropy of p = sigmoid(x) (bottom 0, any shape) against
// targets t in [0, 1] (bottom 1, as many values):
//   loss = -(1/Z) Σ_{i not ignored} [t_i log p_i + (1 - t_i) log(1 - p_i)]
// with Z from loss_param (caffe/layers/loss_normalization.hpp; this layer's default is
// BATCH_SIZE, the first axis of x; VALID counts the values whose target is not ignore_label).
// Backward (x only): dx_i = w/Z (p_i - t_i), zero where ignored.
class SigmoidCrossEntropyLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "SigmoidCrossEntropyLoss"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }
  bool IsLoss() const override { return true; }
  bool AllowForceBackward(int bottom_index) const override { return bottom_index == 0; }
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

  IgnoreLabel ignore_;
  LossParameter::NormalizationMode normalization_ = LossParameter::BATCH_SIZE;
  Blob terms_;            // per value: its cross-entropy, 0 where ignored
  Blob valid_;            // per value: 1, or 0 where ignored
  float normalizer_ = 1;  // Z of the last forward pass
};

// Whether a target is the ignore label: compared as an integer, as labels are, without the
// undefined conversion of values outside the int range.
CAFFE_HOST_DEVICE inline bool ignores_target(IgnoreLabel ignore, float target) {
  return ignore.active && fabsf(target) < 2147483648.0f && ignore.matches(static_cast<int>(target));
}

// Per value: -[t log p + (1 - t) log(1 - p)] = -[x (t - [x >= 0]) - log(1 + exp(-|x|))], a form
// whose exp never overflows.
struct SigmoidCrossEntropyTerms {
  const float* x;
  const float* t;
  float* terms;
  float* valid;
  IgnoreLabel ignore;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    if (ignores_target(ignore, t[i])) {
      terms[i] = 0.0f;
      valid[i] = 0.0f;
      return;
    }
    const float value = x[i];
    const float positive = value >= 0 ? 1.0f : 0.0f;
    terms[i] = log1pf(expf(-fabsf(value))) - value * (t[i] - positive);
    valid[i] = 1.0f;
  }
};

struct SigmoidCrossEntropyGradient {
  const float* x;
  const float* t;
  float* dx;
  IgnoreLabel ignore;
  float scale;  // w / Z
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    dx[i] = ignores_target(ignore, t[i]) ? 0.0f : scale * (Logistic::value(x[i]) - t[i]);
  }
};

}  // namespace caffe
