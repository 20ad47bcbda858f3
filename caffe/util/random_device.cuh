// Device side of the counter-based random numbers in caffe/core/common.hpp.  The host versions are
// constexpr/inline host functions that device code cannot call, so the same hash is restated
// here as __device__ functions; it must stay bit-identical to the host one (tested on the GPU by
// comparing gpu_uniform_fill with uniform_at).
#pragma once

#include <cstdint>

namespace caffe {

// Host-callable: out[i] = uniform_at(key, i) for i in [0, count), computed on the device into
// the device array `out`.
void gpu_uniform_fill(uint64_t key, int count, float* out);

#ifdef __CUDACC__
// Same constants and steps as caffe::mix64.
__device__ inline uint64_t device_mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Same as caffe::uniform_at: the top 24 bits of the hash scaled into [0, 1).
__device__ inline float device_uniform_at(uint64_t key, uint64_t index) {
  return static_cast<float>(device_mix64(key ^ (index * 0xD1B54A32D192ED03ull)) >> 40) *
         (1.0f / 16777216.0f);
}
#endif

}  // namespace caffe
