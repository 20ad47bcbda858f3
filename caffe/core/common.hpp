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

// Number of threads the CPU BLAS uses (printed by the tools, settable by CAFFE_NUM_THREADS).
int blas_threads();
void set_blas_threads(int threads);
std::string blas_info();

}  // namespace caffe
