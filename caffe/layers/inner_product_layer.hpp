#pragma once

#include "caffe/core/layer.hpp"
#include "caffe/util/math_functions.hpp"
#include "layers/approx_dropout/approx_pattern.hpp"

namespace caffe {

// InnerProduct (fully connected): the bottom is viewed as X [M, K], K = product of its axes from
// inner_product_param.axis on, and  Y [M, N] = X W^T + 1 b^T  with W [N, K] (or W^T stored as
// [K, N] when transpose) and b [N].  Backward: dX = dY W, dW += dY^T X, db += dY^T 1.
//
// Known-zero inputs: when the bottom's ColumnPattern (set by an approximate-dropout layer, carried
// through ReLU/Dropout/TanH) says that only the columns k ≡ b (mod dp) of X can be non-zero, the
// layer computes with those K' = ceil((K - b) / dp) columns only (approx_dropout::MaskedProduct:
// X's and W's live columns packed, three GEMMs over K' instead of K).  Y and dW equal the dense
// results up to float rounding (the skipped terms are exact zeros; dW of skipped columns is left
// untouched, which is what += 0 does).  dX is computed for the live columns only and is ZERO in
// the skipped ones, where the dense path would give (dY W)[:, k]: those gradients belong to
// values that are structurally zero and never reach a parameter or an earlier layer (the
// element-wise layers in between pass dX[:, k] only to the dropout layer's dropped output k, whose
// gradient it ignores), and not computing them saves a GEMM's (1 - 1/dp).  Skipping can be turned
// off (approx_dropout::set_column_skip_enabled, CAFFE_NO_PATTERN_SKIP).
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

  // `columns` runs the products when input columns are skipped.
  void ForwardOn(const Device& device, const approx_dropout::ApproxOps& columns,
                 const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(const Device& device, const approx_dropout::ApproxOps& columns,
                  const BlobVec& top, const std::vector<bool>& propagate_down,
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
  // The input columns the last forward used (all of them unless the bottom had a pattern) and
  // the product over them; backward follows the same plan.
  approx_dropout::DropPattern live_inputs_;
  approx_dropout::MaskedProduct live_product_;
};

}  // namespace caffe
