#include "caffe/util/cudnn_runtime.hpp"

#ifdef CAFFE_USE_CUDNN

#include "caffe/core/common.hpp"
#include "caffe/core/cuda_context.hpp"

namespace caffe {
namespace cudnn_runtime {

namespace {
// One handle per device (as for cuBLAS), destroyed at exit.
struct Handles {
  cudnnHandle_t handles[64] = {};
  ~Handles() {
    for (cudnnHandle_t handle : handles) {
      if (handle) cudnnDestroy(handle);
    }
  }
};
}  // namespace

cudnnHandle_t handle() {
  static Handles instance;
  int device_id = 0;
  CUDA_CALL(cudaGetDevice(&device_id));
  cudnnHandle_t& handle = instance.handles[device_id];
  if (!handle) CUDNN_CALL(cudnnCreate(&handle));
  return handle;
}

void throw_cudnn_error(cudnnStatus_t status, const char* what, const char* file, int line) {
  fail("cuDNN error '", cudnnGetErrorString(status), "' in ", what, " (", file, ":", line, ")");
}

}  // namespace cudnn_runtime
}  // namespace caffe

#endif  // CAFFE_USE_CUDNN
