// Device side of block_sum (caffe/util/block_sum.hpp), for .cu files only: one warp per sum block
// (grid-stride over the blocks), thread t of the warp adding lane t's values in the host's order,
// then lane 0 adding the lane sums in double in lane order.  CAFFE_BLOCK_SUM_GPU(Functor)
// instantiates it.
#pragma once

#include "caffe/core/cuda_context.hpp"
#include "caffe/util/block_sum.hpp"

namespace caffe {

template <typename Fn>
__global__ void block_sum_kernel(long long count, long long blocks, Fn fn, double* partials) {
  static_assert(cuda::kThreadsPerBlock % kSumLanes == 0, "whole warps per thread block");
  constexpr int kWarps = cuda::kThreadsPerBlock / kSumLanes;
  __shared__ float lanes[kWarps][kSumLanes];
  const int warp = static_cast<int>(threadIdx.x) / kSumLanes;
  const int lane = static_cast<int>(threadIdx.x) % kSumLanes;
  const long long stride = static_cast<long long>(gridDim.x) * kWarps;
  for (long long b = static_cast<long long>(blockIdx.x) * kWarps + warp; b < blocks; b += stride) {
    const long long begin = b * kSumBlock;
    const long long end = begin + kSumBlock < count ? begin + kSumBlock : count;
    float sum = 0;
    // __fadd_rn: never fused with a product in fn into an FMA, so each addition rounds as the
    // host's does.
    for (long long i = begin + lane; i < end; i += kSumLanes) sum = __fadd_rn(sum, fn(i));
    lanes[warp][lane] = sum;
    __syncwarp();
    if (lane == 0) partials[b] = lane_total(lanes[warp]);
    __syncwarp();  // lanes[warp] is reused by this warp's next sum block
  }
}

template <typename Fn>
void block_sums_gpu(long long count, const Fn& fn, double* partials) {
  constexpr long long kWarps = cuda::kThreadsPerBlock / kSumLanes;
  const long long blocks = sum_blocks(count);
  const long long grid = std::min((blocks + kWarps - 1) / kWarps, 65535LL * 32);
  block_sum_kernel<<<static_cast<int>(grid), cuda::kThreadsPerBlock>>>(count, blocks, fn, partials);
  CUDA_KERNEL_CHECK();
}

}  // namespace caffe

#define CAFFE_BLOCK_SUM_GPU(Functor) \
  template void caffe::block_sums_gpu<Functor>(long long, const Functor&, double*)
