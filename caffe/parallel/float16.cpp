// float <-> IEEE binary16 conversion (round to nearest even) and the fp16 payload loops.
#include "caffe/parallel/float16.hpp"

#include <cstring>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// `value` shifted right by `shift` bits, rounded to nearest with ties to even.
uint32_t shift_round_even(uint32_t value, int shift) {
  const uint32_t kept = value >> shift;
  const uint32_t rest = value & ((uint32_t{1} << shift) - 1);
  const uint32_t half = uint32_t{1} << (shift - 1);
  return kept + (rest > half || (rest == half && (kept & 1)));
}

constexpr uint32_t kFloatSmallestNormalHalf = 0x38800000u;  // 2^-14 as float bits
constexpr uint32_t kFloatBelowHalfRounding = 0x33000000u;   // 2^-25: at or below, rounds to 0
constexpr uint32_t kFloatHalfOverflow = 0x477ff000u;        // 65520: rounds to infinity

}  // namespace

uint16_t float_to_half(float value) {
  const uint32_t bits = float_bits(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= kFloatSmallestNormalHalf) {
    // Re-bias the exponent (127 -> 15) and round the mantissa from 23 to 10 bits; a carry out
    // of the mantissa correctly bumps the exponent.
    return static_cast<uint16_t>(sign | shift_round_even(magnitude - (112u << 23), 13));
  }
  if (magnitude <= kFloatBelowHalfRounding) return sign;
  // Subnormal half: the value in units of 2^-24, from the float's implicit-one mantissa.
  const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
  const int shift = 126 - static_cast<int>(magnitude >> 23);
  return static_cast<uint16_t>(sign | shift_round_even(mantissa, shift));
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = uint32_t{bits & 0x8000u} << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24, exact in float
    return bits_float(sign | float_bits(static_cast<float>(mantissa) * 0x1p-24f));
  }
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

void encode_halves(const float* values, size_t count, uint8_t* out, const std::string& name) {
  for (size_t i = 0; i < count; ++i) {
    if ((float_bits(values[i]) & 0x7fffffffu) >= kFloatHalfOverflow) {
      fail("codec: blob '", name, "' holds ", values[i], " at index ", i,
           ", beyond the fp16 range (|w| <= ", kHalfMax, ")");
    }
    const uint16_t half = float_to_half(values[i]);
    out[2 * i] = static_cast<uint8_t>(half);
    out[2 * i + 1] = static_cast<uint8_t>(half >> 8);
  }
}

void decode_halves(const uint8_t* in, size_t count, float* out) {
  for (size_t i = 0; i < count; ++i) {
    const auto half = static_cast<uint16_t>(in[2 * i] | in[2 * i + 1] << 8);
    if ((half & 0x7c00u) == 0x7c00u) fail("weight ", i, " is an fp16 infinity or NaN");
    out[i] = half_to_float(half);
  }
}

}  // namespace caffe
