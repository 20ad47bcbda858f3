// The geometry of a 2-D convolution, shared by Convolution and Deconvolution and by every engine
// (im2col + BLAS, oneDNN, cuDNN): the ConvolutionParameter read into numbers, and the shapes of
// one convolution in convolution terms (its input, weights and output).
#pragma once

#include <string>
#include <vector>

#include "proto/caffe.pb.h"

namespace caffe {

// A window along one spatial axis.  A convolution over an input of `size` positions has
//   (size + 2·pad − extent) / stride + 1   outputs (floor), extent = dilation·(kernel − 1) + 1,
// and a deconvolution over `size` inputs has  stride·(size − 1) + extent − 2·pad  outputs.
struct ConvWindow {
  int kernel = 1;
  int pad = 0;
  int stride = 1;
  int dilation = 1;

  int extent() const { return dilation * (kernel - 1) + 1; }
  long long conv_output(long long size) const { return (size + 2LL * pad - extent()) / stride + 1; }
  long long deconv_output(long long size) const {
    return stride * (size - 1) + extent() - 2LL * pad;
  }
  bool operator==(const ConvWindow& other) const {
    return kernel == other.kernel && pad == other.pad && stride == other.stride &&
           dilation == other.dilation;
  }
};

// The convolution_param of a Convolution or Deconvolution layer, checked.
struct ConvSpec {
  int num_output = 0;
  bool bias_term = true;
  int group = 1;
  int engine = 0;
  ConvWindow height, width;
};

// Reads and checks convolution_param for 2 spatial axes: kernel_size or kernel_h/kernel_w, pad
// or pad_h/pad_w, stride or stride_h/stride_w, dilation (each repeated field holds one value for
// both axes or one per axis), num_output > 0, group > 0.  Errors are caffe::Error.
ConvSpec read_conv_spec(const ConvolutionParameter& param);

// One convolution in convolution terms: `batch` images of in_channels × in_h × in_w convolved
// with weights [out_channels, in_channels / group, kernel_h, kernel_w] (BVLC's layout: the
// weights of output channel o in group o / (out_channels / group) see input channels
// [g · in_channels / group, (g + 1) · in_channels / group)) give out_channels × out_h × out_w:
//   y[n, o, i, j] = Σ_{c, a, b} w[o, c, a, b] · x[n, g·C/G + c, i·stride_h − pad_h + a·dilation_h,
//                                                   j·stride_w − pad_w + b·dilation_w]
// (cross-correlation; positions outside the input are 0), plus bias[o] when `bias`.
// Deconvolution runs this convolution backwards: its input is `y`, its output `x`.
struct ConvGeometry {
  int batch = 0;
  int in_channels = 0, in_h = 0, in_w = 0;
  int out_channels = 0, out_h = 0, out_w = 0;
  int group = 1;
  ConvWindow height, width;
  bool bias = false;  // the forward adds bias[out_channel], backward-weights computes its gradient

  long long in_image() const { return static_cast<long long>(in_channels) * in_h * in_w; }
  long long out_image() const { return static_cast<long long>(out_channels) * out_h * out_w; }
  int out_spatial() const { return out_h * out_w; }
  // Rows of one group's im2col matrix: (input channel, kernel row, kernel column).
  int group_col_rows() const { return in_channels / group * height.kernel * width.kernel; }
  std::vector<int> weight_shape() const {
    return {out_channels, in_channels / group, height.kernel, width.kernel};
  }
  // A 1x1 kernel with stride 1 and no padding: the input already is its im2col matrix.
  bool is_pointwise() const;
  bool operator==(const ConvGeometry& other) const;
  bool operator!=(const ConvGeometry& other) const { return !(*this == other); }
};

// Output size along one axis ("height" / "width") of a convolution over `input` positions; an
// error when the kernel's extent is larger than the padded input.
int conv_output_size(const ConvWindow& window, int input, const char* axis);
// Output size of a deconvolution over `input` positions; an error when padding leaves none.
int deconv_output_size(const ConvWindow& window, int input, const char* axis);
// An error unless `group` divides both the input channels and num_output.
void check_group(int group, int channels, int num_output);

}  // namespace caffe
