// e^x, the logistic sigmoid and tanh for element-wise functors (CAFFE_HOST_DEVICE), written so
// that a host loop over them vectorises: no library call and no branch.  GCC does not vectorise
// expf / tanhf calls without -ffast-math, and a scalar expf costs several ns, which made the
// LSTM's gate pass and the 10,000-word softmax cost as much as their products.  On the device
// they are the CUDA library functions.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "caffe/util/device.hpp"

namespace caffe {

#ifndef __CUDA_ARCH__
namespace vector_math_detail {

inline uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(float));
  return bits;
}

inline float float_of(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(float));
  return value;
}

}  // namespace vector_math_detail
#endif

// e^x within about 2 ulp for x in [-87, 88].  Arguments are clamped to that range first, so
// e^x below e^-87 (≈ 1.6e-38, the smallest normal float) is returned as about that value
// instead of a denormal or 0, and e^x above e^88 as e^88 instead of infinity; NaN stays NaN.
CAFFE_HOST_DEVICE inline float vector_exp(float x) {
#ifdef __CUDA_ARCH__
  return expf(x);
#else
  using vector_math_detail::bits_of;
  using vector_math_detail::float_of;
  x = select_value(x < -87.0f, -87.0f, x);
  x = select_value(x > 88.0f, 88.0f, x);
  // e^x = 2^n · e^r with n = round(x / ln 2) and |r| <= ln 2 / 2.  Adding 1.5 · 2^23 rounds
  // x / ln 2 to an integer, which the low bits of the sum then hold (no float-to-int
  // conversion, so NaN is harmless); ln 2 is split in two (Cody and Waite) so that r is exact
  // to float precision.
  constexpr float kRounder = 12582912.0f;
  const float shifted = x * 1.44269504f + kRounder;
  const float n = shifted - kRounder;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  // e^r by its Taylor series to degree 7: the remainder, |r|^8 / 8! < 5e-9, is below half an ulp.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n as a float: the biased exponent n + 127 (in [1, 254] after the clamp) in bits 23-30.
  const uint32_t exponent = bits_of(shifted) - bits_of(kRounder) + 127u;
  return p * float_of(exponent << 23);
#endif
}

// 1 / (1 + e^-x).
CAFFE_HOST_DEVICE inline float vector_sigmoid(float x) { return 1.0f / (1.0f + vector_exp(-x)); }

// tanh x = 2 σ(2x) - 1 on the host: within about 1e-7 absolute (relative precision is lost near
// 0, where the result is tiny next to 1).
CAFFE_HOST_DEVICE inline float vector_tanh(float x) {
#ifdef __CUDA_ARCH__
  return tanhf(x);
#else
  return 2.0f * vector_sigmoid(2.0f * x) - 1.0f;
#endif
}

}  // namespace caffe
