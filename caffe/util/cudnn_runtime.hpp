// cuDNN as the layers use it: one handle per device, error checks that throw caffe::Error, and
// RAII owners of its descriptors.
#pragma once

#ifdef CAFFE_USE_CUDNN

#include <cudnn.h>

namespace caffe {
namespace cudnn_runtime {

// The current device's handle, created on first use and kept for the process.
cudnnHandle_t handle();
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* what, const char* file,
                                    int line);

// An owned cuDNN descriptor: Create on construction, Destroy on destruction.
template <typename Descriptor, cudnnStatus_t (*Create)(Descriptor*),
          cudnnStatus_t (*Destroy)(Descriptor)>
class Owned {
 public:
  Owned() {
    const cudnnStatus_t status = Create(&descriptor_);
    if (status != CUDNN_STATUS_SUCCESS) {
      throw_cudnn_error(status, "creating a descriptor", __FILE__, __LINE__);
    }
  }
  ~Owned() { Destroy(descriptor_); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  Descriptor get() const { return descriptor_; }

 private:
  Descriptor descriptor_ = nullptr;
};

using TensorDescriptor =
    Owned<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using PoolingDescriptor =
    Owned<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor>;

}  // namespace cudnn_runtime
}  // namespace caffe

#define CUDNN_CALL(expr)                                                           \
  do {                                                                             \
    const cudnnStatus_t status_ = (expr);                                          \
    if (status_ != CUDNN_STATUS_SUCCESS)                                           \
      caffe::cudnn_runtime::throw_cudnn_error(status_, #expr, __FILE__, __LINE__); \
  } while (0)

#endif  // CAFFE_USE_CUDNN
