#pragma once

#include <cstdint>
#include <vector>

#include "caffe/layers/neuron_layer.hpp"
#include "caffe/util/random.hpp"

namespace caffe {

// Dropout with ratio p (dropout_param.dropout_ratio, in [0, 1)).  TRAIN: unit i is kept iff
// u_i = uniform_at(step_key(), i) >= p, and y_i = keep_i * x_i / (1 - p); dL/dx = the same mask
// and scale applied to dL/dy.  TEST: y = x.  The mask is a pure function of the forward pass's
// key, so CPU and GPU draw identical masks and in-place use is safe; the CPU keeps it as one byte
// per unit for Backward (cheaper than hashing again), the GPU recomputes it.
class DropoutLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "Dropout"; }
  bool PreservesZeros() const override { return true; }  // 0 * mask / (1 - p) = 0
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;

 private:
  float ratio_ = 0.5f;
  float scale_ = 2.0f;      // 1 / (1 - ratio_)
  uint32_t threshold_ = 0;  // u_i >= p as an integer compare (uniform_bits_threshold)
  // Key and size of the mask drawn by the last TRAIN forward pass (-1: none yet); Backward
  // reuses the key (GPU) ...
  uint64_t mask_key_ = 0;
  long long mask_count_ = -1;
  // ... or the mask itself, 1 for a kept unit (CPU).
  std::vector<uint8_t> kept_;
};

// Unit i is kept iff uniform_bits_at(key, i) >= threshold.  out_i = in_i · scale where it is kept,
// else 0: a select, not a product with the mask, so dropped units are 0 even where in_i is inf or
// NaN.  The device draws and applies the mask in one pass (DropoutDraw, in Forward and again in
// Backward); the host records it as bytes (DropoutMask) and applies them (DropoutApplyKept), in
// two passes that run faster than one that hashes and selects per element.
struct DropoutDraw {
  uint64_t key;
  uint32_t threshold;
  float scale;
  const float* in;
  float* out;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const bool keep = uniform_bits_at(key, static_cast<uint64_t>(i)) >= threshold;
    out[i] = keep ? in[i] * scale : 0.0f;
  }
};

struct DropoutMask {
  uint64_t key;
  uint32_t threshold;
  uint8_t* kept;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    kept[i] = uniform_bits_at(key, static_cast<uint64_t>(i)) >= threshold;
  }
};

struct DropoutApplyKept {
  const uint8_t* kept;
  float scale;
  const float* in;
  float* out;
  CAFFE_HOST_DEVICE void operator()(long long i) const { out[i] = kept[i] ? in[i] * scale : 0.0f; }
};

}  // namespace caffe
