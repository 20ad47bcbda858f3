#pragma once

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"
#include "caffe/util/masked_product.hpp"
#include "caffe/util/sparse_backward.hpp"

namespace caffe {

// InnerProduct (fully connected): the bottom is viewed as X [M, K], K = product of its axes from
// inner_product_param.axis on, and  Y [M, N] = X W^T + 1 b^T  with W [N, K] (or W^T stored as
// [K, N] when transpose) and b [N].  Backward: dX = dY W, dW += dY^T X, db += dY^T 1.
//
// Known-zero inputs: when the bottom's ColumnPattern (set by an approximate-dropout layer, carried
// through ReLU/Dropout/TanH) says that only the columns k ≡ b (mod dp) of X can be non-zero, the
// layer computes with those K' = ceil((K - b) / dp) columns only (MaskedProduct:
// X's and W's live columns packed, three GEMMs over K' instead of K).  Y and dW equal the dense
// results up to float rounding (the skipped terms are exact zeros; dW of skipped columns is left
// untouched, which is what += 0 does).  dX is computed for the live columns only and is ZERO in
// the skipped ones, where the dense path would give (dY W)[:, k]: those gradients belong to
// values that are structurally zero and never reach a parameter or an earlier layer (the
// element-wise layers in between pass dX[:, k] only to the dropout layer's dropped output k, whose
// gradient it ignores), and not computing them saves a GEMM's (1 - 1/dp).  Skipping can be turned
// off (set_column_skip_enabled, CAFFE_NO_PATTERN_SKIP).
//
// Sparse top gradient: without a pattern, dX and dW come from dY's non-zeros where that is
// measured to pay (the 1x1 case of caffe/util/sparse_backward.hpp); the subclasses' products do
// not.
//
// Subclasses change the product through four hooks (InnerProductApproxDropout drops rows, columns
// or tiles of W there); setup, shapes, loaded-blob checks and the Forward/Backward sequence stay
// here.
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

  // The hooks, on `mode`'s device, with x = input's data [rows, K] and W = blobs()[0]:
  //   ProjectInput:  y [rows, N] = x Wᵀ (overwritten);
  //   BackpropInput: dx = dy W (overwritten) and dW += dyᵀ x; either may be null.  It follows
  //                  the ProjectInput of the same forward pass and may reuse what that prepared;
  //   AddBias:       y += 1 bᵀ;     BackpropBias: db += dyᵀ 1.
  virtual void ProjectInput(Mode mode, const Blob& input, float* y);
  virtual void BackpropInput(Mode mode, const float* dy, const Blob& input, float* dx,
                             float* dweight);
  virtual void AddBias(Mode mode, const float* bias, float* y);
  virtual void BackpropBias(Mode mode, const float* dy, float* dbias);

  int rows() const { return rows_; }           // M: product of the bottom axes before axis
  int inputs() const { return inputs_; }       // K
  int outputs() const { return num_output_; }  // N
  // The product over kept parts of W, planned per forward (see MaskedProduct).
  MaskedProduct& product() { return product_; }

 private:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
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
  DropPattern live_inputs_;
  MaskedProduct product_;
  SparseConvBackward sparse_;
};

}  // namespace caffe
