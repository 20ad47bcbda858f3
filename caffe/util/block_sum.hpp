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

// Σ fn(r, c) over a rows x cols grid on the host, where fn is a functor of the grid form of
// for_each (it may write outputs) that returns a float.  The rows are cut into fixed groups of
// about kSumBlock values (grid_sum_groups); within a group, value c of each row goes to float
// lane c % kRowLanes in row order, the lanes are folded pairwise at the group's end, and the
// groups are added in double in group order: the result depends neither on the number of threads
// nor on how the groups are split, and short rows (the 2x2 and 4x4 planes of late CNN layers)
// pay no per-row reduction.  group_sums: scratch of grid_sum_groups(rows, cols) doubles.
constexpr int kRowLanes = 16;

inline int grid_sum_group_rows(int cols) {
  return static_cast<int>(std::max(1LL, kSumBlock / std::max(cols, 1)));
}
inline long long grid_sum_groups(int rows, int cols) {
  const int group = grid_sum_group_rows(cols);
  return (rows + group - 1) / group;
}

template <typename Fn>
double grid_sum_cpu(int rows, int cols, const Fn& fn, double* group_sums,
                    long long min_chunk = kElementwiseMinChunk) {
  if (rows <= 0 || cols <= 0) return 0.0;
  const int group_rows = grid_sum_group_rows(cols);
  const long long groups = grid_sum_groups(rows, cols);
  const long long min_groups =
      std::max(1LL, min_chunk / (static_cast<long long>(group_rows) * cols));
  parallel_for(groups, min_groups, [&](long long first, long long last) {
    const Fn body = fn;  // a copy that the stores cannot alias (see for_each)
    for (long long g = first; g < last; ++g) {
      float lanes[kRowLanes] = {};
      const int row_end = static_cast<int>(std::min<long long>(rows, (g + 1) * group_rows));
      for (int row = static_cast<int>(g * group_rows); row < row_end; ++row) {
        int c = 0;
        for (; c + kRowLanes <= cols; c += kRowLanes) {
          for (int t = 0; t < kRowLanes; ++t) lanes[t] += body(row, c + t);
        }
        for (int t = 0; c < cols; ++c, ++t) lanes[t] += body(row, c);
      }
      for (int width = kRowLanes / 2; width > 0; width /= 2) {
        for (int t = 0; t < width; ++t) lanes[t] += lanes[t + width];
      }
      group_sums[g] = lanes[0];
    }
  });
  return sum_in_order(group_sums, groups);
}

// Makes `buffer` hold scratch for block_sum over `count` elements (reallocated only to grow).
inline void block_sum_buffer(long long count, std::unique_ptr<SyncedMemory>* buffer) {
  const size_t bytes = static_cast<size_t>(sum_blocks(count)) * sizeof(double);
  if (!*buffer || (*buffer)->size() < bytes) *buffer = std::make_unique<SyncedMemory>(bytes);
}

}  // namespace caffe
