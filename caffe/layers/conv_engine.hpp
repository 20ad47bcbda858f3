// The engines of Convolution and Deconvolution: one interface over our im2col + BLAS code
// (engine CAFFE, both devices), oneDNN (the CPU library) and cuDNN (the GPU library).  An engine
// computes one convolution in convolution terms (caffe/util/conv_geometry.hpp); Deconvolution
// runs the same engine with the passes exchanged (its forward is the backward-data pass).
#pragma once

#include <memory>

#include "caffe/core/blob.hpp"
#include "caffe/util/conv_geometry.hpp"
#include "caffe/util/engine.hpp"

namespace caffe {

// One device's implementation.  Pointers are on that device, tensors are NCHW (weights
// [out_channels, in_channels / group, kh, kw]) and contiguous.
class ConvEngine {
 public:
  virtual ~ConvEngine() = default;

  // Prepares buffers, descriptors and primitives for `geometry`; does nothing when it is the
  // geometry already prepared, so calling it before every pass costs a comparison.
  void Configure(const ConvGeometry& geometry);
  const ConvGeometry& geometry() const { return geometry_; }

  // y = conv(x, weights) (+ bias[o] when the geometry has a bias).  Overwrites y.
  virtual void Forward(const float* x, const float* weights, const float* bias, float* y) = 0;
  // dx = the gradient of <dy, y> with respect to x, the transposed convolution.  Overwrites dx.
  virtual void BackwardData(const float* dy, const float* weights, float* dx) = 0;
  // dweights += the gradient of <dy, y> with respect to the weights, and dbias += Σ dy over
  // images and positions (geometries with a bias only); either pointer may be null.
  virtual void BackwardWeights(const float* x, const float* dy, float* dweights, float* dbias) = 0;
  // Both backward passes of one (x, dy) pair, each only when one of its outputs is wanted (not
  // null): BackwardWeights, then BackwardData.  An engine may share work between the two (oneDNN
  // reorders dy once).
  virtual void Backward(const float* x, const float* dy, const float* weights, float* dx,
                        float* dweights, float* dbias);

 protected:
  // Called by Configure when the geometry changed; geometry() is the new one.
  virtual void Prepare() = 0;

 private:
  ConvGeometry geometry_;
  bool configured_ = false;
};

// The engine of `backend` for the device of `mode` (kDnnl / kCudnn only in builds that have them).
std::unique_ptr<ConvEngine> make_conv_engine(Backend backend, Mode mode);

// A per-channel bias over NCHW tensors with BLAS: y[n, c, s] += bias[c] and its gradient.
class ChannelBias {
 public:
  void Configure(int num, int channels, int spatial);
  void Add(Mode mode, const float* bias, float* y) const;
  // dbias[c] += Σ_{n, s} dy[n, c, s].
  void Backprop(Mode mode, const float* dy, float* dbias) const;

 private:
  int num_ = 0, channels_ = 0, spatial_ = 0;
  Blob ones_;  // `spatial` ones: the bias as a rank-1 product, its gradient as a product
};

}  // namespace caffe
