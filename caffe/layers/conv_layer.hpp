#pragma once

#include "caffe/layers/base_conv_layer.hpp"

namespace caffe {

// Convolution (BVLC's cross-correlation): x [N, C, H, W], weights [M, C/G, kh, kw], bias [M],
//   y[n, m, i, j] = b[m] + Σ_{c, a, b'} w[m, c, a, b'] · x[n, g·C/G + c, i·sh − ph + a·dh,
//                                                           j·sw − pw + b'·dw],  g = m / (M/G),
// with out = (in + 2·pad − (dilation·(k − 1) + 1)) / stride + 1 (floor) per spatial axis.
// Backward: dx = the transposed convolution of dy, dW += Σ dy ⋆ x, db += Σ dy.
class ConvolutionLayer : public BaseConvolutionLayer {
 public:
  using BaseConvolutionLayer::BaseConvolutionLayer;
  const char* type() const override { return "Convolution"; }

 protected:
  ConvGeometry GeometryFor(int num, int channels, int height, int width) const override;
  std::vector<int> TopImageShape(const ConvGeometry& geometry) const override;
  void ForwardPair(Mode mode, ConvEngine& engine, const float* x, const float* weights,
                   const float* bias, float* y) override;
  void BackwardPair(Mode mode, ConvEngine& engine, const float* x, const float* dy,
                    const float* weights, float* dx, float* dweights, float* dbias) override;
};

}  // namespace caffe
