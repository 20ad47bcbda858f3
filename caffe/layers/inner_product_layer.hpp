#pragma once

#include "caffe/core/layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

// InnerProduct (fully connected): the bottom is viewed as X [M, K], K = product of its axes from
// inner_product_param.axis on, and  Y [M, N] = X W^T + 1 b^T  with W [N, K] (or W^T stored as
// [K, N] when transpose) and b [N].  Backward: dX = dY W, dW += dY^T X, db += dY^T 1.
class InnerProductLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "InnerProduct"; }
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
  // The BLAS routines and pointer accessors of one device, so the CPU and GPU paths share the
  // same sequence of products.
  struct Device {
    decltype(&cpu_gemm) gemm;
    decltype(&cpu_gemv) gemv;
    const float* (Blob::*data)() const;
    const float* (Blob::*diff)() const;
    float* (Blob::*mutable_diff)();
    float* (Blob::*mutable_data)();
  };
  static const Device kCpu;
  static const Device kGpu;

  void ForwardOn(const Device& device, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(const Device& device, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);
  std::vector<int> ExpectedWeightShape() const;
  void CheckLoadedBlobs() const;

  int num_output_ = 0;  // N
  int axis_ = 1;        // first bottom axis folded into K
  int inputs_ = 0;      // K
  int rows_ = 0;        // M
  bool bias_term_ = true;
  bool transpose_ = false;
  Blob bias_multiplier_;  // M ones: adds the bias to every row with one product
};

}  // namespace caffe
