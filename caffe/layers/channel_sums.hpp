// Per-channel sums over an [outer, dim, inner] view of a blob (caffe/layers/axis_split.hpp): the
// statistics of BatchNorm and the operand gradients of Scale and Bias.  What is summed is a terms
// functor, written once for both devices:
//   struct Terms {
//     static constexpr int kSums = 1 or 2;  // how many sums it feeds
//     // The terms of element i (in channel c) in the first and (kSums 2) the second sum.
//     CAFFE_HOST_DEVICE float first(long long i, int c) const;
//     CAFFE_HOST_DEVICE float second(long long i, int c) const;
//   };
// On the CPU each channel's terms are added where they are computed, in one pass over the
// elements and with no buffer (channels, or blocks of outer rows, on the parallel_for threads);
// on the GPU they are written out and summed by two matrix-vector products (cuBLAS).
#pragma once

#include <algorithm>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/layers/axis_split.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// Where a sum goes: sums[c] = alpha · Σ + beta · sums[c] (beta 0 overwrites, NaN included).
// A null `sums` is not wanted.
struct SumTarget {
  float* sums = nullptr;
  float alpha = 1.0f;
  float beta = 0.0f;
};

// first = values[i].
struct ValueTerms {
  static constexpr int kSums = 1;
  const float* values;
  CAFFE_HOST_DEVICE float first(long long i, int /*c*/) const { return values[i]; }
};

// first = a[i] · b[i], second = a[i]: Σ dy·x and Σ dy together.
struct ProductAndValueTerms {
  static constexpr int kSums = 2;
  const float* a;
  const float* b;
  CAFFE_HOST_DEVICE float first(long long i, int /*c*/) const { return a[i] * b[i]; }
  CAFFE_HOST_DEVICE float second(long long i, int /*c*/) const { return a[i]; }
};

// A GPU pass that writes the terms out (the GPU sums them with the BLAS).
template <typename Terms>
struct WriteTerms {
  AxisSplit split;
  Terms terms;
  float* first;
  float* second;
  CAFFE_HOST_DEVICE void operator()(int plane, int k) const {
    const long long i = static_cast<long long>(plane) * split.inner + k;
    const int c = plane % split.axis_dim;
    first[i] = terms.first(i, c);
    if constexpr (Terms::kSums == 2) second[i] = terms.second(i, c);
  }
};

// sums[c] = alpha · Σ_{o, i} values[o, c, i] + beta · sums[c], by two matrix-vector products with
// a vector of ones (over inner, then over outer), on either device.  Keeps its buffers.
class AxisReduction {
 public:
  void Sum(Mode mode, const AxisSplit& split, const float* values, float alpha, float beta,
           float* sums);

 private:
  const float* Ones(Mode mode, int count);

  Blob ones_;
  Blob partial_;  // [outer, dim]: the sums over inner
};

// GCC unrolls a short loop completely and then vectorises the loop around it, with shuffles
// that interleave the lanes; kept as a loop, the eight lanes become two vector additions.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define CAFFE_VECTOR_LOOP _Pragma("GCC unroll 1")
#else
#define CAFFE_VECTOR_LOOP
#endif

class ChannelSums {
 public:
  // The most values of a row summed in float (512 per lane) before the sum goes on in double.
  static constexpr int kRowBlock = 4096;

  // The sums of terms over channel c = the middle index of `split`, into first (terms' first
  // values) and second (their second values; Terms::kSums 2 only).
  template <typename Terms>
  void Sum(Mode mode, const AxisSplit& split, const Terms& terms, SumTarget first,
           SumTarget second = {});

 private:
  // A tile: one channel over a block of outer rows, summed by one thread into partials_.
  struct Tiling {
    int rows_per_tile;
    int tiles_per_channel;
  };
  static Tiling TilingFor(const AxisSplit& split);
  template <typename Terms>
  void SumTilesOnCpu(const AxisSplit& split, const Terms& terms, Tiling tiling);
  // Combines each channel's tiles (in a fixed order, whatever the thread count) into the targets.
  void StoreCpu(const AxisSplit& split, Tiling tiling, SumTarget first, SumTarget second) const;
  template <typename Terms>
  void SumOnGpu(const AxisSplit& split, const Terms& terms, SumTarget first, SumTarget second);

  std::vector<double> partials_;  // [channel, tile, 2]
  AxisReduction reduction_;       // the GPU's sums of written terms
  Blob first_terms_, second_terms_;
};

template <typename Terms>
void ChannelSums::Sum(Mode mode, const AxisSplit& split, const Terms& terms, SumTarget first,
                      SumTarget second) {
  static_assert(Terms::kSums == 1 || Terms::kSums == 2, "terms feed one or two sums");
  if constexpr (Terms::kSums == 1) second.sums = nullptr;
  if (split.axis_dim <= 0 || (!first.sums && !second.sums)) return;
  if (mode == Mode::GPU) {
    SumOnGpu(split, terms, first, second);
    return;
  }
  const Tiling tiling = TilingFor(split);
  SumTilesOnCpu(split, terms, tiling);
  StoreCpu(split, tiling, first, second);
}

template <typename Terms>
void ChannelSums::SumTilesOnCpu(const AxisSplit& split, const Terms& terms, Tiling tiling) {
  const int dim = split.axis_dim, inner = split.inner, outer = split.outer;
  const long long tiles = static_cast<long long>(dim) * tiling.tiles_per_channel;
  partials_.assign(2 * tiles, 0.0);
  double* partials = partials_.data();
  const long long tile_elements = static_cast<long long>(tiling.rows_per_tile) * inner;
  const long long min_tiles = std::max(1LL, kElementwiseMinChunk / std::max(1LL, tile_elements));
  parallel_for(tiles, min_tiles, [&](long long begin, long long end) {
    constexpr int kLanes = 8;
    const Terms body = terms;  // a local copy the compiler keeps in registers
    for (long long tile = begin; tile < end; ++tile) {
      const int c = static_cast<int>(tile / tiling.tiles_per_channel);
      const int first_row =
          static_cast<int>(tile % tiling.tiles_per_channel) * tiling.rows_per_tile;
      const int last_row = std::min(outer, first_row + tiling.rows_per_tile);
      double sum_first = 0.0, sum_second = 0.0;
      for (int o = first_row; o < last_row; ++o) {
        const long long row = (static_cast<long long>(o) * dim + c) * inner;
        // Blocks of a row in eight float lanes (two vector additions), each block's lanes then
        // added in double: the order of the additions depends on the shape only.
        for (int block = 0; block < inner; block += kRowBlock) {
          const int block_end = std::min(inner, block + kRowBlock);
          float lanes_first[kLanes] = {}, lanes_second[kLanes] = {};
          int k = block;
          for (; k + kLanes <= block_end; k += kLanes) {
            CAFFE_VECTOR_LOOP
            for (int lane = 0; lane < kLanes; ++lane) {
              lanes_first[lane] += body.first(row + k + lane, c);
            }
            if constexpr (Terms::kSums == 2) {
              CAFFE_VECTOR_LOOP
              for (int lane = 0; lane < kLanes; ++lane) {
                lanes_second[lane] += body.second(row + k + lane, c);
              }
            }
          }
          for (; k < block_end; ++k) {
            lanes_first[0] += body.first(row + k, c);
            if constexpr (Terms::kSums == 2) lanes_second[0] += body.second(row + k, c);
          }
          for (int lane = 0; lane < kLanes; ++lane) {
            sum_first += lanes_first[lane];
            sum_second += lanes_second[lane];
          }
        }
      }
      partials[2 * tile] = sum_first;
      partials[2 * tile + 1] = sum_second;
    }
  });
}

template <typename Terms>
void ChannelSums::SumOnGpu(const AxisSplit& split, const Terms& terms, SumTarget first,
                           SumTarget second) {
  const long long count = static_cast<long long>(split.outer) * split.axis_dim * split.inner;
  first_terms_.Reshape({static_cast<int>(count)});
  if (Terms::kSums == 2) second_terms_.Reshape({static_cast<int>(count)});
  float* first_values = first_terms_.mutable_gpu_data();
  float* second_values = Terms::kSums == 2 ? second_terms_.mutable_gpu_data() : nullptr;
  for_each(Mode::GPU, split.outer * split.axis_dim, split.inner,
           WriteTerms<Terms>{split, terms, first_values, second_values});
  if (first.sums) {
    reduction_.Sum(Mode::GPU, split, first_values, first.alpha, first.beta, first.sums);
  }
  if (second.sums) {
    reduction_.Sum(Mode::GPU, split, second_values, second.alpha, second.beta, second.sums);
  }
}

}  // namespace caffe
