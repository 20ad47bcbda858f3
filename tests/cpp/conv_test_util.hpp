// Shared by the Convolution and Deconvolution tests: a convolution case as prototxt, direct-loop
// reference implementations of BVLC's formulas (written from the definitions, independent of
// the layers' im2col and library code), and the engines to run each case on.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "caffe/util/engine.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace test {

struct ConvCase {
  int num = 2, channels = 4, height = 5, width = 6;
  int num_output = 6;
  int kernel_h = 3, kernel_w = 3;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int group = 1;
  bool bias = true;
  int axis = 1;

  std::string prototxt(const std::string& type, const std::string& engine) const {
    std::ostringstream out;
    out << "name: 'conv' type: '" << type << "' convolution_param { num_output: " << num_output
        << " kernel_h: " << kernel_h << " kernel_w: " << kernel_w << " pad_h: " << pad_h
        << " pad_w: " << pad_w << " stride_h: " << stride_h << " stride_w: " << stride_w
        << " dilation: " << dilation_h << " dilation: " << dilation_w << " group: " << group
        << " bias_term: " << (bias ? "true" : "false") << " axis: " << axis << " engine: " << engine
        << " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' } }";
    return out.str();
  }
  std::vector<int> bottom_shape() const { return {num, channels, height, width}; }
  int extent_h() const { return dilation_h * (kernel_h - 1) + 1; }
  int extent_w() const { return dilation_w * (kernel_w - 1) + 1; }
};

// The convolution of `c` read from its definition, on NCHW vectors:
//   y[n, m, i, j] = b[m] + Σ w[m, k, a, b'] · x[n, g·C/G + k, i·sh − ph + a·dh, j·sw − pw + b'·dw].
// With `transposed`, the deconvolution: the same sum scattered from x (C channels) into y
// (num_output channels) with weights [C, M/G, kh, kw].  Returns y; writes its shape.
inline std::vector<float> reference_conv(const ConvCase& c, const float* x, const float* w,
                                         const float* bias, bool transposed,
                                         std::vector<int>* y_shape) {
  const int C = c.channels, M = c.num_output, G = c.group;
  int out_h, out_w;
  if (transposed) {
    out_h = c.stride_h * (c.height - 1) + c.extent_h() - 2 * c.pad_h;
    out_w = c.stride_w * (c.width - 1) + c.extent_w() - 2 * c.pad_w;
  } else {
    out_h = (c.height + 2 * c.pad_h - c.extent_h()) / c.stride_h + 1;
    out_w = (c.width + 2 * c.pad_w - c.extent_w()) / c.stride_w + 1;
  }
  *y_shape = {c.num, M, out_h, out_w};
  std::vector<float> y(static_cast<size_t>(c.num) * M * out_h * out_w, 0.0f);
  const auto y_at = [&](int n, int m, int i, int j) -> float& {
    return y[((static_cast<size_t>(n) * M + m) * out_h + i) * out_w + j];
  };
  if (!transposed) {
    const int in_per_group = C / G, out_per_group = M / G;
    for (int n = 0; n < c.num; ++n)
      for (int m = 0; m < M; ++m)
        for (int i = 0; i < out_h; ++i)
          for (int j = 0; j < out_w; ++j) {
            double sum = bias ? bias[m] : 0.0;
            const int g = m / out_per_group;
            for (int k = 0; k < in_per_group; ++k)
              for (int a = 0; a < c.kernel_h; ++a)
                for (int b = 0; b < c.kernel_w; ++b) {
                  const int h = i * c.stride_h - c.pad_h + a * c.dilation_h;
                  const int v = j * c.stride_w - c.pad_w + b * c.dilation_w;
                  if (h < 0 || h >= c.height || v < 0 || v >= c.width) continue;
                  const int channel = g * in_per_group + k;
                  sum += static_cast<double>(
                             w[((m * in_per_group + k) * c.kernel_h + a) * c.kernel_w + b]) *
                         x[((n * C + channel) * c.height + h) * c.width + v];
                }
            y_at(n, m, i, j) = static_cast<float>(sum);
          }
    return y;
  }
  const int in_per_group = C / G, out_per_group = M / G;
  for (int n = 0; n < c.num; ++n)
    for (int channel = 0; channel < C; ++channel)
      for (int i = 0; i < c.height; ++i)
        for (int j = 0; j < c.width; ++j) {
          const float value = x[((n * C + channel) * c.height + i) * c.width + j];
          const int g = channel / in_per_group;
          for (int k = 0; k < out_per_group; ++k)
            for (int a = 0; a < c.kernel_h; ++a)
              for (int b = 0; b < c.kernel_w; ++b) {
                const int h = i * c.stride_h - c.pad_h + a * c.dilation_h;
                const int v = j * c.stride_w - c.pad_w + b * c.dilation_w;
                if (h < 0 || h >= out_h || v < 0 || v >= out_w) continue;
                y_at(n, g * out_per_group + k, h, v) +=
                    w[((channel * out_per_group + k) * c.kernel_h + a) * c.kernel_w + b] * value;
              }
        }
  if (bias) {
    for (int n = 0; n < c.num; ++n)
      for (int m = 0; m < M; ++m)
        for (int i = 0; i < out_h; ++i)
          for (int j = 0; j < out_w; ++j) y_at(n, m, i, j) += bias[m];
  }
  return y;
}

// The settings of the engine field to test on the CPU: CAFFE, and CUDNN (oneDNN there) in
// builds that have oneDNN.
inline std::vector<std::string> cpu_engines() {
  std::vector<std::string> engines = {"CAFFE"};
  if (library_backend(Mode::CPU) != Backend::kCaffe) engines.push_back("CUDNN");
  return engines;
}

// Cases that between them cover padding, strides, dilation, groups (including depthwise),
// rectangular kernels, pointwise kernels and no bias.
inline std::vector<ConvCase> varied_cases() {
  std::vector<ConvCase> cases(8);
  cases[1].pad_h = 1, cases[1].pad_w = 2, cases[1].stride_h = 2, cases[1].stride_w = 3;
  cases[2].dilation_h = 2, cases[2].dilation_w = 1, cases[2].pad_h = 2, cases[2].height = 7;
  cases[3].group = 2, cases[3].bias = false;
  cases[4].group = 4, cases[4].num_output = 4, cases[4].pad_h = cases[4].pad_w = 1;  // depthwise
  cases[5].kernel_h = 1, cases[5].kernel_w = 4, cases[5].stride_w = 2;
  cases[6].kernel_h = cases[6].kernel_w = 1;  // pointwise: no im2col
  cases[7].kernel_h = 2, cases[7].kernel_w = 3, cases[7].stride_h = 3, cases[7].pad_w = 1,
  cases[7].dilation_w = 2, cases[7].group = 2, cases[7].num_output = 4;
  return cases;
}

inline std::string describe(const ConvCase& c) {
  std::ostringstream out;
  out << "kernel " << c.kernel_h << "x" << c.kernel_w << " pad " << c.pad_h << "," << c.pad_w
      << " stride " << c.stride_h << "," << c.stride_w << " dilation " << c.dilation_h << ","
      << c.dilation_w << " group " << c.group << (c.bias ? "" : " no bias");
  return out.str();
}

inline void expect_near_values(const float* expected, const float* actual, int count,
                               float tolerance, const std::string& what) {
  for (int i = 0; i < count; ++i) {
    const float scale = std::max(1.0f, std::fabs(expected[i]));
    ASSERT_NEAR(expected[i], actual[i], tolerance * scale) << what << " element " << i;
  }
}

inline void expect_near_all(const std::vector<float>& expected, const Blob& actual, float tolerance,
                            const std::string& what) {
  ASSERT_EQ(static_cast<int>(expected.size()), actual.count()) << what;
  expect_near_values(expected.data(), actual.cpu_data(), actual.count(), tolerance, what);
}

}  // namespace test
}  // namespace caffe
