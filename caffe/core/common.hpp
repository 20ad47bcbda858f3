// Process-wide settings (CPU/GPU mode, device, random seed) and the error type for user mistakes.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace caffe {

// A user-facing error (bad file, bad prototxt, shape mismatch, ...).  The CLI turns it into one
// message and exit status 1; the Python bindings turn it into a Python exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds a message from streamable parts and throws caffe::Error.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(message.str());
}

enum class Mode { CPU, GPU };

Mode mode();
void set_mode(Mode mode);
// Selects the CUDA device used in GPU mode.  Errors if it does not exist.
void set_device(int device_id);
int device();
// Number of CUDA devices visible (0 in CPU-only builds or without a GPU).
int gpu_count();
bool cuda_compiled();

// The seed every random stream of the process is derived from.
void set_random_seed(uint64_t seed);
uint64_t random_seed();

// Counter-based random numbers: a pure function of (key, index), identical on CPU and GPU, so a
// training run resumed from a snapshot reproduces exactly the masks it would have drawn.
inline constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
inline constexpr uint64_t hash_combine(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }
// The 24 random bits of element `index` of the stream `key`.
inline uint32_t uniform_bits_at(uint64_t key, uint64_t index) {
  return static_cast<uint32_t>(mix64(key ^ (index * 0xD1B54A32D192ED03ull)) >> 40);
}
// Uniform float in [0, 1) for element `index` of the stream `key`: exactly bits / 2^24.
inline float uniform_at(uint64_t key, uint64_t index) {
  return static_cast<float>(uniform_bits_at(key, index)) * (1.0f / 16777216.0f);
}
// The integer t with  uniform_at(key, i) >= p  <=>  uniform_bits_at(key, i) >= t  for p in [0, 1]:
// uniform_at is exactly m / 2^24, and m / 2^24 >= p  <=>  m >= ceil(p · 2^24) (exact in double).
// Lets hot loops compare integers instead of converting every draw to float.
inline uint32_t uniform_bits_threshold(float p) {
  return static_cast<uint32_t>(std::ceil(static_cast<double>(p) * 16777216.0));
}

// Number of threads the CPU BLAS uses (printed by the tools, settable by CAFFE_NUM_THREADS).
int blas_threads();
void set_blas_threads(int threads);
std::string blas_info();

}  // namespace caffe
