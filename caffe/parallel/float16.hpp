// IEEE 754 binary16 ("half") conversion for the weight codec's fp16 mode, written out in integer
// arithmetic so that the result is the same on every host (round to nearest, ties to even).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace caffe {

// The largest finite half; a float of magnitude 65520 or more would round to infinity.
constexpr float kHalfMax = 65504.0f;

// The half nearest `value` (finite, |value| < 65520).
uint16_t float_to_half(float value);
// The float equal to half `bits` (every half is exactly a float).
float half_to_float(uint16_t bits);

// Writes values[0, count) as little-endian halves (2 bytes each).  caffe::Error naming blob
// `name` when a weight is beyond the half range.
void encode_halves(const float* values, size_t count, uint8_t* out, const std::string& name);
// Reads `count` little-endian halves.  caffe::Error on an infinity or NaN, which the encoder
// never writes.
void decode_halves(const uint8_t* in, size_t count, float* out);

}  // namespace caffe
