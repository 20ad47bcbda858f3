// Counter-based random numbers, the same on the host and the device (one definition, marked
// CAFFE_HOST_DEVICE).
#pragma once

#include <cmath>
#include <cstdint>

#include "caffe/util/device.hpp"

namespace caffe {

// Counter-based random numbers: a pure function of (key, index), identical on CPU and GPU, so a
// training run resumed from a snapshot reproduces exactly the masks it would have drawn.
CAFFE_HOST_DEVICE inline constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
CAFFE_HOST_DEVICE inline constexpr uint64_t hash_combine(uint64_t a, uint64_t b) {
  return mix64(a ^ mix64(b));
}
// The 24 random bits of element `index` of the stream `key`.
CAFFE_HOST_DEVICE inline uint32_t uniform_bits_at(uint64_t key, uint64_t index) {
  return static_cast<uint32_t>(mix64(key ^ (index * 0xD1B54A32D192ED03ull)) >> 40);
}
// Uniform float in [0, 1) for element `index` of the stream `key`: exactly bits / 2^24.
CAFFE_HOST_DEVICE inline float uniform_at(uint64_t key, uint64_t index) {
  return static_cast<float>(uniform_bits_at(key, index)) * (1.0f / 16777216.0f);
}
// The integer t with  uniform_at(key, i) >= p  <=>  uniform_bits_at(key, i) >= t  for p in [0, 1]:
// uniform_at is exactly m / 2^24, and m / 2^24 >= p  <=>  m >= ceil(p · 2^24) (exact in double).
// Lets hot loops compare integers instead of converting every draw to float.
inline uint32_t uniform_bits_threshold(float p) {
  return static_cast<uint32_t>(std::ceil(static_cast<double>(p) * 16777216.0));
}

// out[i] = uniform_at(key, i): the same stream written out (tests compare the devices with it).
struct UniformFill {
  uint64_t key;
  float* out;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    out[i] = uniform_at(key, static_cast<uint64_t>(i));
  }
};

}  // namespace caffe
