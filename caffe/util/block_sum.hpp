// Deterministic sums of a per-element functor, the same on the host and the device: the reduction
// counterpart of for_each (caffe/util/device.hpp).
//
// block_sum(mode, count, fn, partials) returns Σ fn(i) over [0, count), where fn(i) is a
// CAFFE_HOST_DEVICE double (it may also write an output, as a for_each functor does).  The range
// is cut into fixed blocks of kSumBlock elements, each block is summed in double (host: split over
// the parallel_for threads; device: one thread block per sum block), and the block sums are added
// on the host in block order.  So the result does not depend on the number of threads, and host
// and device differ only in the order of the double additions inside a block (far below float
// precision).  The device path copies the block sums back: it synchronizes with the stream.
//
// A functor used on the GPU is instantiated by one CAFFE_BLOCK_SUM_GPU(Functor) line in a .cu
// file (caffe/util/block_sum.cuh), as CAFFE_FOR_EACH_GPU does for for_each.
#pragma once

#include <glog/logging.h>

#include <algorithm>
#include <memory>

#include "caffe/core/synced_memory.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

constexpr long long kSumBlock = 1 << 12;

inline long long sum_blocks(long long count) { return (count + kSumBlock - 1) / kSumBlock; }

#ifdef CAFFE_USE_CUDA
// Writes block b's sum to partials[b] (device memory); defined in caffe/util/block_sum.cuh.
template <typename Fn>
void block_sums_gpu(long long count, const Fn& fn, double* partials);
#endif

// Host block sums: four interleaved accumulators per block (a fixed order, so still
// deterministic) keep the additions from waiting on each other.
template <typename Fn>
void block_sums_cpu(long long count, const Fn& fn, double* partials, long long min_chunk) {
  const long long min_blocks = std::max(1LL, min_chunk / kSumBlock);
  parallel_for(sum_blocks(count), min_blocks, [&](long long first, long long last) {
    for (long long b = first; b < last; ++b) {
      const long long begin = b * kSumBlock;
      const long long end = std::min(begin + kSumBlock, count);
      double lane[4] = {0, 0, 0, 0};
      long long i = begin;
      for (; i + 4 <= end; i += 4) {
        lane[0] += fn(i);
        lane[1] += fn(i + 1);
        lane[2] += fn(i + 2);
        lane[3] += fn(i + 3);
      }
      for (; i < end; ++i) lane[0] += fn(i);
      partials[b] = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    }
  });
}

// `partials` is scratch memory of at least sum_blocks(count) doubles, kept by the caller between
// calls (see block_sum_buffer).  min_chunk: as for for_each, in elements.
template <typename Fn>
double block_sum(Mode mode, long long count, const Fn& fn, SyncedMemory* partials,
                 long long min_chunk = kElementwiseMinChunk) {
  if (count <= 0) return 0.0;
  const long long blocks = sum_blocks(count);
  CHECK_GE(partials->size(), static_cast<size_t>(blocks) * sizeof(double));
  if (mode == Mode::GPU) {
#ifdef CAFFE_USE_CUDA
    block_sums_gpu(count, fn, static_cast<double*>(partials->mutable_gpu_data()));
#else
    fail("GPU mode is not available in a CPU-only build");
#endif
  } else {
    block_sums_cpu(count, fn, static_cast<double*>(partials->mutable_cpu_data()), min_chunk);
  }
  const double* sums = static_cast<const double*>(partials->cpu_data());
  double total = 0;
  for (long long b = 0; b < blocks; ++b) total += sums[b];
  return total;
}

// Makes `buffer` hold scratch for block_sum over `count` elements (reallocated only to grow).
inline void block_sum_buffer(long long count, std::unique_ptr<SyncedMemory>* buffer) {
  const size_t bytes = static_cast<size_t>(sum_blocks(count)) * sizeof(double);
  if (!*buffer || (*buffer)->size() < bytes) *buffer = std::make_unique<SyncedMemory>(bytes);
}

}  // namespace caffe
