#pragma once

#include <memory>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/core/synced_memory.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// Eltwise: combines K ≥ 2 bottoms of one shape element by element.  SUM: y = Σ c_k x_k (coeff, one
// per bottom, default 1); PROD: y = Π x_k; MAX: y = max_k x_k, the first bottom winning ties.
// Backward: SUM dx_k = c_k dy; PROD dx_k = dy Π_{j≠k} x_j (stable_prod_grad, the default) or
// dy · y / x_k; MAX dx_k = dy where bottom k won (an argmax kept from the forward), else 0.
class EltwiseLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Eltwise"; }
  int MinBottomBlobs() const override { return 2; }
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
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);
  void ProductGradient(Mode mode, int k, const BlobVec& top, const BlobVec& bottom);
  int* Winners(Mode mode);

  EltwiseParameter::EltwiseOp operation_ = EltwiseParameter::SUM;
  std::vector<float> coeffs_;  // SUM: one per bottom
  bool stable_prod_grad_ = true;
  std::unique_ptr<SyncedMemory> winners_;  // MAX: per element, the index of the winning bottom
};

// out = factor · in.
struct ScaledCopy {
  float factor;
  const float* in;
  float* out;
  CAFFE_HOST_DEVICE void operator()(long long i) const { out[i] = factor * in[i]; }
};

// out = a_factor · a + b_factor · b; out may alias a or b.
struct ScaledSum {
  float a_factor;
  const float* a;
  float b_factor;
  const float* b;
  float* out;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    out[i] = a_factor * a[i] + b_factor * b[i];
  }
};

// out = Σ_k factors[k] · inputs[k] (one or more inputs of `count` values), in one pass per input
// after the second; out may not alias an input.  Eltwise SUM and Split's backward.
void weighted_sum(Mode mode, int count, const std::vector<const float*>& inputs,
                  const std::vector<float>& factors, float* out);

// MAX, bottom 0: y = x, winner = 0.
struct ArgMaxStart {
  const float* x;
  float* y;
  int* winner;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    y[i] = x[i];
    winner[i] = 0;
  }
};

// MAX, bottom k > 0: takes over where strictly greater, so earlier bottoms win ties.
struct ArgMaxUpdate {
  int k;
  const float* x;
  float* y;
  int* winner;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    if (x[i] > y[i]) {
      y[i] = x[i];
      winner[i] = k;
    }
  }
};

// MAX backward for bottom k: dx = dy where k won, else 0.
struct ArgMaxGradient {
  int k;
  const int* winner;
  const float* dy;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(long long i) const { dx[i] = winner[i] == k ? dy[i] : 0.0f; }
};

// PROD backward without stable_prod_grad: dx = dy · y / x (infinite or NaN where x = 0).
struct ProductQuotientGradient {
  const float* dy;
  const float* y;
  const float* x;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(long long i) const { dx[i] = dy[i] * y[i] / x[i]; }
};

}  // namespace caffe
