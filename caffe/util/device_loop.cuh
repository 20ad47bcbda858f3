// Element-wise device loops for .cu files: launch_elementwise(n, op) runs op(i) for i in [0, n)
// with a grid-stride kernel.  `op` is a __device__ lambda (nvcc --extended-lambda).
#pragma once

#include "caffe/core/cuda_context.hpp"

namespace caffe {

template <typename Op>
__global__ void elementwise_kernel(long long n, Op op) {
  CUDA_KERNEL_LOOP(i, n) { op(i); }
}

template <typename Op>
void launch_elementwise(long long n, Op op) {
  if (n <= 0) return;
  elementwise_kernel<<<cuda::blocks_for(n), cuda::kThreadsPerBlock>>>(n, op);
  CUDA_KERNEL_CHECK();
}

}  // namespace caffe
