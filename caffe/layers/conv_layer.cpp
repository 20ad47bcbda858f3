#include "caffe/layers/conv_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

ConvGeometry ConvolutionLayer::GeometryFor(int num, int channels, int height, int width) const {
  const ConvSpec& s = spec();
  ConvGeometry g;
  g.batch = num;
  g.in_channels = channels;
  g.in_h = height;
  g.in_w = width;
  g.out_channels = s.num_output;
  g.out_h = conv_output_size(s.height, height, "height");
  g.out_w = conv_output_size(s.width, width, "width");
  g.group = s.group;
  g.height = s.height;
  g.width = s.width;
  g.bias = s.bias_term;
  return g;
}

std::vector<int> ConvolutionLayer::TopImageShape(const ConvGeometry& g) const {
  return {g.out_channels, g.out_h, g.out_w};
}

void ConvolutionLayer::ForwardPair(Mode /*mode*/, ConvEngine& engine, const float* x,
                                   const float* weights, const float* bias, float* y) {
  engine.Forward(x, weights, bias, y);
}

void ConvolutionLayer::BackwardPair(Mode mode, ConvEngine& engine, const float* x, const float* dy,
                                    const float* weights, float* dx, float* dweights,
                                    float* dbias) {
  sparse_.Configure(engine.geometry(), WeightOrder::kConvolution);
  if (sparse_.Prepare(mode, dy, dx != nullptr)) {
    sparse_.Backward(mode, x, weights, dx, dweights, dbias);
    return;
  }
  engine.Backward(x, dy, weights, dx, dweights, dbias);
}

REGISTER_LAYER("Convolution", ConvolutionLayer);

}  // namespace caffe
