#include "caffe/layers/conv_im2col.hpp"

namespace caffe {

void Im2colConvEngine::Prepare() {
  const ConvGeometry& g = geometry();
  shape_ = Im2colShape{g.in_channels, g.in_h, g.in_w, g.out_h, g.out_w, g.height, g.width};
  if (!g.is_pointwise()) col_.Reshape({g.group_col_rows() * g.group, g.out_spatial()});
  if (g.bias) bias_.Configure(g.batch, g.out_channels, g.out_spatial());
}

const float* Im2colConvEngine::ColumnsOf(const float* image) {
  if (geometry().is_pointwise()) return image;
  float* col = col_.mutable_data_on(mode_);
  im2col(mode_, shape_, image, col);
  return col;
}

void Im2colConvEngine::Forward(const float* x, const float* weights, const float* bias, float* y) {
  const ConvGeometry& g = geometry();
  const Blas& math = blas(mode_);
  const int group_out = g.out_channels / g.group, K = g.group_col_rows(), S = g.out_spatial();
  for (int n = 0; n < g.batch; ++n) {
    const float* col = ColumnsOf(x + n * g.in_image());
    float* y_n = y + n * g.out_image();
    for (int group = 0; group < g.group; ++group) {
      math.gemm(Trans::No, Trans::No, group_out, S, K, 1.0f, weights + group * group_out * K,
                col + static_cast<long long>(group) * K * S, 0.0f,
                y_n + static_cast<long long>(group) * group_out * S);
    }
  }
  if (g.bias) bias_.Add(mode_, bias, y);
}

void Im2colConvEngine::BackwardData(const float* dy, const float* weights, float* dx) {
  const ConvGeometry& g = geometry();
  const Blas& math = blas(mode_);
  const int group_out = g.out_channels / g.group, K = g.group_col_rows(), S = g.out_spatial();
  const bool pointwise = g.is_pointwise();
  for (int n = 0; n < g.batch; ++n) {
    // col = Wᵀ dy_n, written straight into dx_n when the image is its own im2col matrix.
    float* dx_n = dx + n * g.in_image();
    float* col = pointwise ? dx_n : col_.mutable_data_on(mode_);
    const float* dy_n = dy + n * g.out_image();
    for (int group = 0; group < g.group; ++group) {
      math.gemm(Trans::Yes, Trans::No, K, S, group_out, 1.0f, weights + group * group_out * K,
                dy_n + static_cast<long long>(group) * group_out * S, 0.0f,
                col + static_cast<long long>(group) * K * S);
    }
    if (!pointwise) col2im(mode_, shape_, col, dx_n);
  }
}

void Im2colConvEngine::BackwardWeights(const float* x, const float* dy, float* dweights,
                                       float* dbias) {
  const ConvGeometry& g = geometry();
  if (dbias && g.bias) bias_.Backprop(mode_, dy, dbias);
  if (!dweights) return;
  const Blas& math = blas(mode_);
  const int group_out = g.out_channels / g.group, K = g.group_col_rows(), S = g.out_spatial();
  for (int n = 0; n < g.batch; ++n) {
    const float* col = ColumnsOf(x + n * g.in_image());
    const float* dy_n = dy + n * g.out_image();
    for (int group = 0; group < g.group; ++group) {
      math.gemm(Trans::No, Trans::Yes, group_out, K, S, 1.0f,
                dy_n + static_cast<long long>(group) * group_out * S,
                col + static_cast<long long>(group) * K * S, 1.0f,
                dweights + group * group_out * K);
    }
  }
}

}  // namespace caffe
