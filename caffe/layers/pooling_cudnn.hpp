#pragma once

#ifdef CAFFE_USE_CUDNN

#include "caffe/core/blob.hpp"
#include "caffe/layers/pooling_layer.hpp"
#include "caffe/util/cudnn_runtime.hpp"

namespace caffe {

// PoolingLayer's GPU library engine: cuDNN pooling on the blobs' NCHW memory, its descriptors
// built once per geometry.  MAX uses cuDNN's deterministic mode, and backward is given a copy of
// the top taken in forward: cuDNN finds the argmax again by comparing the bottom with the top,
// and a later in-place layer (Dropout, ReLU) may have changed the top blob by then.
class CudnnPooling {
 public:
  // Whether cuDNN computes exactly BVLC's result: it pads both sides alike and sizes the output
  // with floor, so BVLC's ceil overhang (and the divisor that leaves it out) is out of its reach.
  static bool Supports(const PoolingGeometry& g);

  CudnnPooling(const PoolingGeometry& g, PoolingParameter::PoolMethod method);
  const PoolingGeometry& geometry() const { return geometry_; }
  void Forward(const float* bottom, float* top);
  void Backward(const float* bottom, const float* top, const float* top_diff, float* bottom_diff);

 private:
  PoolingGeometry geometry_;
  bool max_;
  cudnn_runtime::TensorDescriptor bottom_desc_, top_desc_;
  cudnn_runtime::PoolingDescriptor pooling_desc_;
  Blob saved_top_;  // MAX: forward's top, for backward
};

}  // namespace caffe

#endif  // CAFFE_USE_CUDNN
