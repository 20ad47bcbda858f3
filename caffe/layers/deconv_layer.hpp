#pragma once

#include "caffe/layers/base_conv_layer.hpp"

namespace caffe {

// Deconvolution (BVLC's): the transpose of a Convolution, so that a Convolution with the same
// settings maps the top's shape back to the bottom's.  x [N, C, H, W], weights [C, M/G, kh, kw]
// (indexed like a convolution from M to C channels), bias [M]:
//   y = convᵀ(x) + b,  i.e.  y[n, m, i·sh − ph + a·dh, j·sw − pw + b'·dw] += w[c, m', a, b'] ·
//   x[n, c, i, j]  over all c, i, j, a, b' (m = g·M/G + m', g = c / (C/G)),
// with out = stride·(in − 1) + dilation·(k − 1) + 1 − 2·pad per spatial axis.  Backward: dx is
// the convolution of dy with the weights, dW += Σ x ⋆ dy, db += Σ dy.
class DeconvolutionLayer : public BaseConvolutionLayer {
 public:
  using BaseConvolutionLayer::BaseConvolutionLayer;
  const char* type() const override { return "Deconvolution"; }

 protected:
  ConvGeometry GeometryFor(int num, int channels, int height, int width) const override;
  std::vector<int> TopImageShape(const ConvGeometry& geometry) const override;
  void ForwardPair(Mode mode, ConvEngine& engine, const float* x, const float* weights,
                   const float* bias, float* y) override;
  void BackwardPair(Mode mode, ConvEngine& engine, const float* x, const float* dy,
                    const float* weights, float* dx, float* dweights, float* dbias) override;

 private:
  // The bias is on the convolution's input side, which engines do not add: added here.
  ChannelBias bias_;
};

}  // namespace caffe
