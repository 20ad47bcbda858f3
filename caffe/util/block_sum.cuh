// Device side of block_sum (caffe/util/block_sum.hpp), for .cu files only: one thread block per
// sum block of kSumBlock elements (grid-stride over the blocks), a strided per-thread double sum,
// then a tree reduction in shared memory.  CAFFE_BLOCK_SUM_GPU(Functor) instantiates it.
#pragma once

#include "caffe/core/cuda_context.hpp"
#include "caffe/util/block_sum.hpp"

namespace caffe {

template <typename Fn>
__global__ void block_sum_kernel(long long count, long long blocks, Fn fn, double* partials) {
  static_assert((cuda::kThreadsPerBlock & (cuda::kThreadsPerBlock - 1)) == 0,
                "the tree reduction needs a power-of-two block");
  __shared__ double shared[cuda::kThreadsPerBlock];
  const int thread = static_cast<int>(threadIdx.x);
  for (long long b = blockIdx.x; b < blocks; b += gridDim.x) {
    const long long begin = b * kSumBlock;
    const long long end = begin + kSumBlock < count ? begin + kSumBlock : count;
    double sum = 0;
    for (long long i = begin + thread; i < end; i += cuda::kThreadsPerBlock) sum += fn(i);
    shared[thread] = sum;
    __syncthreads();
    for (int half = cuda::kThreadsPerBlock / 2; half > 0; half /= 2) {
      if (thread < half) shared[thread] += shared[thread + half];
      __syncthreads();
    }
    if (thread == 0) partials[b] = shared[0];
    __syncthreads();  // shared[] is reused by this thread block's next sum block
  }
}

template <typename Fn>
void block_sums_gpu(long long count, const Fn& fn, double* partials) {
  const long long blocks = sum_blocks(count);
  const int grid = static_cast<int>(blocks < 65535 * 32 ? blocks : 65535 * 32);
  block_sum_kernel<<<grid, cuda::kThreadsPerBlock>>>(count, blocks, fn, partials);
  CUDA_KERNEL_CHECK();
}

}  // namespace caffe

#define CAFFE_BLOCK_SUM_GPU(Functor) \
  template void caffe::block_sums_gpu<Functor>(long long, const Functor&, double*)
