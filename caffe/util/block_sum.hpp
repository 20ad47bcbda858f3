// Deterministic sums of a per-element functor, bit for bit the same on the host and the device:
// the reduction counterpart of for_each (caffe/util/device.hpp).
//
// block_sum(mode, count, fn, partials) returns Σ fn(i) over [0, count), where fn(i) is a
// CAFFE_HOST_DEVICE float (it may also write an output, as a for_each functor does).  The range
// is cut into fixed blocks of kSumBlock elements.  Within a block, lane t (of kSumLanes) adds
// fn(i) for i = block start + t, + t + kSumLanes, ... in float, in that order; the lanes are then
// added in double in lane order, and the block sums on the host in block order.  The host runs
// the lanes as vector registers (blocks split over the parallel_for threads), the device as one
// warp per block, in the same order: the result depends neither on the device nor on the number
// of threads.  A lane adds kSumBlock / kSumLanes = 128 values, so a float lane loses no more
// than ~128 float roundings of a sum of non-negative values, and counts (fn(i) ∈ {0, 1, ..})
// stay exact.  The device path copies the block sums back: it synchronizes with the stream.
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
constexpr int kSumLanes = 32;  // one warp on the device

inline long long sum_blocks(long long count) { return (count + kSumBlock - 1) / kSumBlock; }

// A block's sum from its lane sums: in double, in lane order (host and device alike).
CAFFE_HOST_DEVICE inline double lane_total(const float* lanes) {
  double total = 0;
  for (int t = 0; t < kSumLanes; ++t) total += lanes[t];
  return total;
}

// Σ values[0 .. n) in index order.
inline double sum_in_order(const double* values, long long n) {
  double total = 0;
  for (long long i = 0; i < n; ++i) total += values[i];
  return total;
}

#ifdef CAFFE_USE_CUDA
// Writes block b's sum to partials[b] (device memory); defined in caffe/util/block_sum.cuh.
template <typename Fn>
void block_sums_gpu(long long count, const Fn& fn, double* partials);
#endif

template <typename Fn>
void block_sums_cpu(long long count, const Fn& fn, double* partials, long long min_chunk) {
  const long long min_blocks = std::max(1LL, min_chunk / kSumBlock);
  parallel_for(sum_blocks(count), min_blocks, [&](long long first, long long last) {
    for (long long b = first; b < last; ++b) {
      const long long begin = b * kSumBlock;
      const long long end = std::min(begin + kSumBlock, count);
      float lanes[kSumLanes] = {};
      long long i = begin;
      for (; i + kSumLanes <= end; i += kSumLanes) {
        for (int t = 0; t < kSumLanes; ++t) lanes[t] += fn(i + t);
      }
      for (int t = 0; i < end; ++i, ++t) lanes[t] += fn(i);
      partials[b] = lane_total(lanes);
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
  return sum_in_order(static_cast<const double*>(partials->cpu_data()), blocks);
}

// Makes `buffer` hold scratch for block_sum over `count` elements (reallocated only to grow).
inline void block_sum_buffer(long long count, std::unique_ptr<SyncedMemory>* buffer) {
  const size_t bytes = static_cast<size_t>(sum_blocks(count)) * sizeof(double);
  if (!*buffer || (*buffer)->size() < bytes) *buffer = std::make_unique<SyncedMemory>(bytes);
}

}  // namespace caffe
