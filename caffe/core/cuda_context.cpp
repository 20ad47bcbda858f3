#include "caffe/core/cuda_context.hpp"

#include <sstream>

#include "caffe/core/common.hpp"

namespace caffe {

#ifdef CAFFE_USE_CUDA

bool cuda_compiled() { return true; }

int gpu_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

namespace cuda {

namespace {
// One cuBLAS handle per device, created on first use and kept for the process.
struct CublasHandles {
  cublasHandle_t handles[64] = {};
  ~CublasHandles() {
    for (cublasHandle_t handle : handles) {
      if (handle) cublasDestroy(handle);
    }
  }
};
CublasHandles& handles() {
  static CublasHandles instance;
  return instance;
}
}  // namespace

void select_device(int device_id) { CUDA_CALL(cudaSetDevice(device_id)); }

cublasHandle_t cublas_handle() {
  int device_id = 0;
  CUDA_CALL(cudaGetDevice(&device_id));
  cublasHandle_t& handle = handles().handles[device_id];
  if (!handle) CUBLAS_CALL(cublasCreate(&handle));
  return handle;
}

void throw_cuda_error(cudaError_t status, const char* what, const char* file, int line) {
  fail("CUDA error '", cudaGetErrorString(status), "' in ", what, " (", file, ":", line, ")");
}

void throw_cublas_error(cublasStatus_t status, const char* what, const char* file, int line) {
  fail("cuBLAS error ", static_cast<int>(status), " in ", what, " (", file, ":", line, ")");
}

std::string describe_devices() {
  std::ostringstream out;
  const int count = gpu_count();
  if (count == 0) return "No CUDA device present.\n";
  for (int id = 0; id < count; ++id) {
    cudaDeviceProp prop{};
    CUDA_CALL(cudaGetDeviceProperties(&prop, id));
    out << "Device " << id << ": " << prop.name << ", compute capability " << prop.major << "."
        << prop.minor << ", " << (prop.totalGlobalMem >> 20) << " MiB, " << prop.multiProcessorCount
        << " SMs\n";
  }
  return out.str();
}

}  // namespace cuda

#else  // CPU-only build

bool cuda_compiled() { return false; }
int gpu_count() { return 0; }

namespace cuda {
void select_device(int) { fail("this build of ApproxCaffe has no CUDA support"); }
std::string describe_devices() { return "This build of ApproxCaffe has no CUDA support.\n"; }
}  // namespace cuda

#endif

}  // namespace caffe
