// Device side of for_each (caffe/util/device.hpp), for .cu files only: the grid-stride kernel,
// and CAFFE_FOR_EACH_GPU(Functor), which instantiates it for a functor so that code in .cpp files
// can launch it through for_each(Mode::GPU, ...).
#pragma once

#include "caffe/core/cuda_context.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

template <typename Fn>
__global__ void for_each_kernel(long long count, Fn fn) {
  CUDA_KERNEL_LOOP(i, count) { fn(i); }
}

template <typename Fn>
void for_each_gpu(long long count, const Fn& fn) {
  if (count <= 0) return;
  for_each_kernel<<<cuda::blocks_for(count), cuda::kThreadsPerBlock>>>(count, fn);
  CUDA_KERNEL_CHECK();
}

}  // namespace caffe

#define CAFFE_FOR_EACH_GPU(Functor) \
  template void caffe::for_each_gpu<Functor>(long long, const Functor&)
#define CAFFE_FOR_EACH_GRID_GPU(Functor) CAFFE_FOR_EACH_GPU(caffe::GridCell<Functor>)
