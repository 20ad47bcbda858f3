#include "caffe/util/conv_geometry.hpp"

#include <climits>
#include <tuple>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {

constexpr int kSpatialAxes = 2;

int positive(uint32_t value, const char* field) {
  if (value == 0 || value > INT_MAX) {
    fail("convolution_param.", field, " must be a positive number, got ", value);
  }
  return static_cast<int>(value);
}

int non_negative(uint32_t value, const char* field) {
  if (value > INT_MAX) fail("convolution_param.", field, " is too large: ", value);
  return static_cast<int>(value);
}

// The (height, width) pair of a setting given either as a repeated field (none: the default,
// one value: both axes, two: one per axis) or as the _h / _w pair.
struct AxisPair {
  uint32_t h, w;
};

template <typename Repeated>
AxisPair axis_pair(const Repeated& values, const char* field, bool has_hw, uint32_t h, uint32_t w,
                   const char* hw_fields, uint32_t fallback) {
  if (has_hw) {
    if (!values.empty()) {
      fail("convolution_param gives both ", field, " and ", hw_fields, "; give one of them");
    }
    return {h, w};
  }
  switch (values.size()) {
    case 0:
      return {fallback, fallback};
    case 1:
      return {values.Get(0), values.Get(0)};
    case kSpatialAxes:
      return {values.Get(0), values.Get(1)};
    default:
      fail("convolution_param.", field, " has ", values.size(), " values; give 1, or ",
           kSpatialAxes, " (one per spatial axis)");
  }
}

}  // namespace

ConvSpec read_conv_spec(const ConvolutionParameter& param) {
  ConvSpec spec;
  spec.num_output = positive(param.num_output(), "num_output");
  spec.group = positive(param.group(), "group");
  spec.bias_term = param.bias_term();
  spec.engine = param.engine();

  const bool has_kernel_hw = param.has_kernel_h() || param.has_kernel_w();
  if (has_kernel_hw && !(param.has_kernel_h() && param.has_kernel_w())) {
    fail("convolution_param needs both kernel_h and kernel_w (or kernel_size)");
  }
  if (!has_kernel_hw && param.kernel_size().empty()) {
    fail("convolution_param needs kernel_size (or kernel_h and kernel_w)");
  }
  const AxisPair kernel = axis_pair(param.kernel_size(), "kernel_size", has_kernel_hw,
                                    param.kernel_h(), param.kernel_w(), "kernel_h/kernel_w", 0);
  spec.height.kernel = positive(kernel.h, "kernel height");
  spec.width.kernel = positive(kernel.w, "kernel width");

  const AxisPair pad = axis_pair(param.pad(), "pad", param.has_pad_h() || param.has_pad_w(),
                                 param.pad_h(), param.pad_w(), "pad_h/pad_w", 0);
  spec.height.pad = non_negative(pad.h, "pad height");
  spec.width.pad = non_negative(pad.w, "pad width");

  const bool has_stride_hw = param.has_stride_h() || param.has_stride_w();
  const AxisPair stride = axis_pair(
      param.stride(), "stride", has_stride_hw, param.has_stride_h() ? param.stride_h() : 1,
      param.has_stride_w() ? param.stride_w() : 1, "stride_h/stride_w", 1);
  spec.height.stride = positive(stride.h, "stride height");
  spec.width.stride = positive(stride.w, "stride width");

  const AxisPair dilation = axis_pair(param.dilation(), "dilation", false, 1, 1, "", 1);
  spec.height.dilation = positive(dilation.h, "dilation height");
  spec.width.dilation = positive(dilation.w, "dilation width");
  return spec;
}

int conv_output_size(const ConvWindow& window, int input, const char* axis) {
  const long long padded = input + 2LL * window.pad;
  if (padded < window.extent()) {
    fail("the kernel ", axis, " ", window.kernel, " (extent ", window.extent(), " with dilation ",
         window.dilation, ") is larger than the padded input ", axis, " ", padded, " (", input,
         " + 2 x pad ", window.pad, ")");
  }
  const long long output = window.conv_output(input);
  if (output > INT_MAX) fail("the output ", axis, " ", output, " is too large");
  return static_cast<int>(output);
}

int deconv_output_size(const ConvWindow& window, int input, const char* axis) {
  const long long output = window.deconv_output(input);
  if (output <= 0 || output > INT_MAX) {
    fail("the output ", axis, " would be ", output, " (stride ", window.stride, " x (input ", input,
         " - 1) + kernel extent ", window.extent(), " - 2 x pad ", window.pad, ")");
  }
  return static_cast<int>(output);
}

void check_group(int group, int channels, int num_output) {
  if (channels % group != 0) {
    fail("group ", group, " does not divide the ", channels, " input channels");
  }
  if (num_output % group != 0) {
    fail("group ", group, " does not divide num_output ", num_output);
  }
}

bool ConvGeometry::is_pointwise() const {
  return height.kernel == 1 && width.kernel == 1 && height.stride == 1 && width.stride == 1 &&
         height.pad == 0 && width.pad == 0;
}

bool ConvGeometry::operator==(const ConvGeometry& other) const {
  const auto fields = [](const ConvGeometry& g) {
    return std::tie(g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.out_h, g.out_w,
                    g.group, g.bias);
  };
  return fields(*this) == fields(other) && height == other.height && width == other.width;
}

}  // namespace caffe
