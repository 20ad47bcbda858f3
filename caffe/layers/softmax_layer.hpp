#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"

namespace caffe {

// Softmax along softmax_param.axis (default 1), for every (outer, inner) position:
//   y_c = exp(x_c - m) / sum_k exp(x_k - m),  m = max_k x_k  (the shift keeps exp finite).
// Backward: dx_c = y_c (dy_c - sum_k dy_k y_k).  In-place use (top = bottom) is allowed.
class SoftmaxLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Softmax"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
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
  AxisSplit split_;
};

// Softmax of `in` along the split's axis into `out` (which may alias `in`); SoftmaxWithLoss
// shares these.  The _gpu variant takes device pointers.
void softmax_forward_cpu(const AxisSplit& split, const float* in, float* out);
#ifdef CAFFE_USE_CUDA
void softmax_forward_gpu(const AxisSplit& split, const float* in, float* out);
#endif

}  // namespace caffe
