#pragma once

#ifdef CAFFE_USE_DNNL

#include <dnnl.hpp>
#include <unordered_map>

namespace caffe {

// LRNLayer's CPU library engine: oneDNN's LRN primitives on the blobs' NCHW memory, built once
// per shape.  oneDNN's formulas are BVLC's for odd local sizes (WITHIN_CHANNEL gets k = 1).
class DnnlLrn {
 public:
  DnnlLrn(const int shape[4], bool across, int local_size, float alpha, float beta, float k);
  bool Fits(const int shape[4]) const;
  void Forward(const float* bottom, float* top);
  void Backward(const float* bottom, const float* top_diff, float* bottom_diff);

 private:
  int shape_[4];
  dnnl::lrn_forward forward_;
  dnnl::lrn_backward backward_;
  dnnl::memory bottom_, top_, bottom_diff_, top_diff_, workspace_;
  std::unordered_map<int, dnnl::memory> forward_args_, backward_args_;
};

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
