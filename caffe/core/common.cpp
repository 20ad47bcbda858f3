#include "caffe/core/common.hpp"

#include <cblas.h>

#include <cstdlib>
#include <random>

#include "caffe/core/cuda_context.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

struct Settings {
  Mode mode = Mode::CPU;
  int device = 0;
  uint64_t seed = std::random_device{}();
};

Settings& settings() {
  static Settings instance;
  return instance;
}

}  // namespace

Mode mode() { return settings().mode; }

void set_mode(Mode new_mode) {
  if (new_mode == Mode::GPU) {
    if (!cuda_compiled()) fail("GPU mode requested, but this build of ApproxCaffe has no CUDA support");
    if (gpu_count() == 0) fail("GPU mode requested, but no CUDA device is present");
  }
  settings().mode = new_mode;
}

void set_device(int device_id) {
  const int count = gpu_count();
  if (device_id < 0 || device_id >= count) {
    fail("GPU ", device_id, " requested, but ", count, " CUDA device(s) are present");
  }
  cuda::select_device(device_id);
  settings().device = device_id;
}

int device() { return settings().device; }

void set_random_seed(uint64_t seed) { settings().seed = seed; }
uint64_t random_seed() { return settings().seed; }

int blas_threads() { return openblas_get_num_threads(); }
void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

std::string blas_info() {
  std::ostringstream out;
  out << openblas_get_config() << " (" << openblas_get_corename() << "), " << blas_threads()
      << " thread(s), GEMM on " << gemm_backend_name(cpu_gemm_backend());
  return out.str();
}

}  // namespace caffe
