// CUDA device, cuBLAS handle and error checks.  In a CPU-only build the functions exist and
// report that no GPU is available, so callers need no #ifdefs.
#pragma once

#include <string>

#ifdef CAFFE_USE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

namespace caffe {
namespace cuda {

void select_device(int device_id);
// One line per device: name, memory, compute capability.
std::string describe_devices();

#ifdef CAFFE_USE_CUDA
cublasHandle_t cublas_handle();
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* what, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* what, const char* file,
                                     int line);

// Threads per block and grid size for element-wise kernels over n items.
constexpr int kThreadsPerBlock = 256;
inline int blocks_for(long long n) {
  const long long blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<int>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}
#endif

}  // namespace cuda
}  // namespace caffe

#ifdef CAFFE_USE_CUDA
#define CUDA_CALL(expr)                                                                   \
  do {                                                                                    \
    const cudaError_t status_ = (expr);                                                   \
    if (status_ != cudaSuccess) caffe::cuda::throw_cuda_error(status_, #expr, __FILE__, __LINE__); \
  } while (0)
#define CUBLAS_CALL(expr)                                                                 \
  do {                                                                                    \
    const cublasStatus_t status_ = (expr);                                                \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                                 \
      caffe::cuda::throw_cublas_error(status_, #expr, __FILE__, __LINE__);                \
  } while (0)
// Checks the launch of the kernel that was just started.
#define CUDA_KERNEL_CHECK() CUDA_CALL(cudaPeekAtLastError())
// Grid-stride loop over [0, n).
#define CUDA_KERNEL_LOOP(i, n)                                                  \
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<long long>(blockDim.x) * gridDim.x)
#endif
