// cuDNN (beside the CUDA toolkit) as the GPU library engine: one handle per device and the error
// check, in the style of caffe/core/cuda_context.hpp.  Only in builds with CAFFE_USE_CUDNN.
#pragma once

#ifdef CAFFE_USE_CUDNN

#include <cudnn.h>

namespace caffe {
namespace cuda {

// The current device's handle, created on first use and kept for the process.  It runs on the
// default stream, like the cuBLAS handle and our kernels, so their work stays in order.
cudnnHandle_t cudnn_handle();
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* what, const char* file,
                                    int line);

// A cuDNN descriptor owned for the scope of the object.
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class CudnnDescriptor {
 public:
  CudnnDescriptor() {
    const cudnnStatus_t status = Create(&descriptor_);
    if (status != CUDNN_STATUS_SUCCESS) {
      throw_cudnn_error(status, "creating a descriptor", __FILE__, __LINE__);
    }
  }
  ~CudnnDescriptor() { Destroy(descriptor_); }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  T get() const { return descriptor_; }

 private:
  T descriptor_{};
};

using CudnnTensor = CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                                    cudnnDestroyTensorDescriptor>;
using CudnnFilter = CudnnDescriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                                    cudnnDestroyFilterDescriptor>;
using CudnnConvolution =
    CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                    cudnnDestroyConvolutionDescriptor>;

}  // namespace cuda
}  // namespace caffe

#define CUDNN_CALL(expr)                                                  \
  do {                                                                    \
    const cudnnStatus_t status_ = (expr);                                 \
    if (status_ != CUDNN_STATUS_SUCCESS)                                  \
      caffe::cuda::throw_cudnn_error(status_, #expr, __FILE__, __LINE__); \
  } while (0)

#endif  // CAFFE_USE_CUDNN
