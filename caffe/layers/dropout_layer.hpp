#pragma once

#include <cstdint>
#include <vector>

#include "caffe/layers/neuron_layer.hpp"

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
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif

 private:
  float ratio_ = 0.5f;
  float scale_ = 2.0f;  // 1 / (1 - ratio_)
  // Key of the mask drawn by the last TRAIN forward pass; Backward reuses it (GPU) ...
  uint64_t mask_key_ = 0;
  // ... or the mask itself, 1 for a kept unit (CPU).
  std::vector<uint8_t> kept_;
};

}  // namespace caffe
