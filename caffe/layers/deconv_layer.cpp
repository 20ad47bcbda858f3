#include "caffe/layers/deconv_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

// The convolution whose backward-data pass this layer is: its output is the bottom (C channels)
// and its input the top (num_output channels).
ConvGeometry DeconvolutionLayer::GeometryFor(int num, int channels, int height, int width) const {
  const ConvSpec& s = spec();
  ConvGeometry g;
  g.batch = num;
  g.in_channels = s.num_output;
  g.in_h = deconv_output_size(s.height, height, "height");
  g.in_w = deconv_output_size(s.width, width, "width");
  g.out_channels = channels;
  g.out_h = height;
  g.out_w = width;
  g.group = s.group;
  g.height = s.height;
  g.width = s.width;
  g.bias = false;
  return g;
}

std::vector<int> DeconvolutionLayer::TopImageShape(const ConvGeometry& g) const {
  return {g.in_channels, g.in_h, g.in_w};
}

void DeconvolutionLayer::ForwardPair(Mode mode, ConvEngine& engine, const float* x,
                                     const float* weights, const float* bias, float* y) {
  engine.BackwardData(x, weights, y);
  if (bias) {
    const ConvGeometry& g = engine.geometry();
    bias_.Configure(g.batch, g.in_channels, g.in_h * g.in_w);
    bias_.Add(mode, bias, y);
  }
}

void DeconvolutionLayer::BackwardPair(Mode mode, ConvEngine& engine, const float* x,
                                      const float* dy, const float* weights, float* dx,
                                      float* dweights, float* dbias) {
  if (dbias) {
    const ConvGeometry& g = engine.geometry();
    bias_.Configure(g.batch, g.in_channels, g.in_h * g.in_w);
    bias_.Backprop(mode, dy, dbias);
  }
  // The convolution's input is dy's side, its output x's side.
  if (dweights) engine.BackwardWeights(dy, x, dweights, nullptr);
  if (dx) engine.Forward(dy, weights, nullptr, dx);
}

REGISTER_LAYER("Deconvolution", DeconvolutionLayer);

}  // namespace caffe
