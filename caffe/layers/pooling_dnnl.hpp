#pragma once

#ifdef CAFFE_USE_DNNL

#include <dnnl.hpp>
#include <unordered_map>

#include "caffe/layers/pooling_layer.hpp"

namespace caffe {

// PoolingLayer's CPU library engine: oneDNN pooling primitives over the blobs' NCHW memory,
// built once per geometry.  MAX keeps oneDNN's workspace (its argmax) from forward to backward.
class DnnlPooling {
 public:
  // Whether oneDNN computes exactly BVLC's result for this configuration (pooling_dnnl.cpp
  // says why it does not for some average poolings).
  static bool Supports(const PoolingGeometry& g, PoolingParameter::PoolMethod method);

  DnnlPooling(const PoolingGeometry& g, PoolingParameter::PoolMethod method);
  const PoolingGeometry& geometry() const { return geometry_; }
  void Forward(const float* bottom, float* top);
  void Backward(const float* top_diff, float* bottom_diff);

 private:
  PoolingGeometry geometry_;
  dnnl::pooling_forward forward_;
  dnnl::pooling_backward backward_;
  // Memory objects bound to the blobs' pointers at each call, and the argument maps over them.
  dnnl::memory bottom_, top_, bottom_diff_, top_diff_, workspace_;
  std::unordered_map<int, dnnl::memory> forward_args_, backward_args_;
};

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
