// StridedBlocks, an evenly spaced selection of index blocks, and the copies between a matrix's
// selected rows × columns and a packed matrix, on the host or the device.  The machinery under
// MaskedProduct (caffe/util/masked_product.hpp): a strided selection of rows or columns is used
// in place by a GEMM when its layout allows a leading dimension, and packed otherwise.
#pragma once

#include <algorithm>

#include "caffe/util/device.hpp"

namespace caffe {

// An evenly spaced set of index blocks in [0, total): the blocks of `block` consecutive indices
// numbered first, first + stride, first + 2·stride, ... (the grid's last block may be cut short
// at total).  The selected indices in increasing order are numbered 0..count()-1 ("compact"
// positions); index(i) maps a compact position back.
class StridedBlocks {
 public:
  StridedBlocks() = default;
  StridedBlocks(int total, int block, int first, int stride);
  static StridedBlocks all(int total) { return StridedBlocks(total, std::max(total, 1), 0, 1); }

  int total() const { return total_; }
  CAFFE_HOST_DEVICE int count() const { return count_; }
  int start() const { return first_ * block_; }  // first selected index (when count() > 0)
  // One run [start(), start() + count()) of consecutive indices (adjacent blocks included).
  bool contiguous() const { return blocks_ <= 1 || stride_ == 1; }
  // Distance between consecutive selected indices if it is constant (contiguous, or block 1),
  // else 0.
  int spacing() const { return contiguous() ? 1 : (block_ == 1 ? stride_ : 0); }

  CAFFE_HOST_DEVICE int index(int position) const {
    return (first_ + position / block_ * stride_) * block_ + position % block_;
  }
  // Calls fn(start, length, position) for each selected block in order (position = compact
  // position of its first index).
  template <typename Fn>
  void for_each_block(Fn&& fn) const {
    for (int b = 0; b < blocks_; ++b) {
      const int begin = (first_ + b * stride_) * block_;
      fn(begin, std::min(block_, total_ - begin), b * block_);
    }
  }
  // Calls fn(index, position) for every selected index in order: one strided loop when evenly
  // spaced, else a loop per block (host loops; the compiler inlines fn).
  template <typename Fn>
  void for_each_index(Fn&& fn) const {
    if (const int step = spacing(); step > 0) {
      for (int position = 0, index = start(); position < count_; ++position, index += step) {
        fn(index, position);
      }
      return;
    }
    for_each_block([&](int begin, int length, int position) {
      for (int k = 0; k < length; ++k) fn(begin + k, position + k);
    });
  }

 private:
  int total_ = 0;
  int block_ = 1;
  int first_ = 0;
  int stride_ = 1;
  int blocks_ = 0;  // selected blocks
  int count_ = 0;   // selected indices
};

// Matrices are row-major with leading dimension `ld`; "packed" matrices have leading dimension =
// their column count.  On the host the copies run row by row over the parallel_for threads (a
// strided inner loop); on the device one thread per element.
// dst (packed rows.count() x cols.count()) = src[rows, cols].
void gather(Mode mode, const StridedBlocks& rows, const StridedBlocks& cols, const float* src,
            int ld, float* dst);
// dst[rows, cols] = alpha · src (packed) + beta · dst[rows, cols]  (beta 0: dst is not read).
void scatter(Mode mode, const StridedBlocks& rows, const StridedBlocks& cols, float alpha,
             const float* src, float beta, float* dst, int ld);
// y[r, j] += alpha · v[j] for r < rows and j in cols (adds a bias to selected outputs).
void add_to_columns(Mode mode, int rows, const StridedBlocks& cols, float alpha, const float* v,
                    float* y, int ld);
// sums[j] += alpha · Σ_{r < rows} y[r, j] for j in cols (a bias gradient).
void accumulate_column_sums(Mode mode, int rows, const StridedBlocks& cols, float alpha,
                            const float* y, int ld, float* sums);

// The element-wise forms of the copies (one call per element of the selection; what the device
// runs).
struct GatherElement {
  StridedBlocks rows, cols;
  const float* src;
  int ld;
  float* dst;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const int width = cols.count();
    const long long row = rows.index(static_cast<int>(i / width));
    dst[i] = src[row * ld + cols.index(static_cast<int>(i % width))];
  }
};

struct ScatterElement {
  StridedBlocks rows, cols;
  float alpha;
  const float* src;
  float beta;
  float* dst;
  int ld;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const int width = cols.count();
    const long long row = rows.index(static_cast<int>(i / width));
    float& to = dst[row * ld + cols.index(static_cast<int>(i % width))];
    to = beta == 0.0f ? alpha * src[i] : alpha * src[i] + beta * to;
  }
};

struct AddToColumnsElement {
  StridedBlocks cols;
  float alpha;
  const float* v;
  float* y;
  int ld;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const int width = cols.count();
    const int column = cols.index(static_cast<int>(i % width));
    y[i / width * ld + column] += alpha * v[column];
  }
};

// One call per selected column, summing down the rows (adjacent device threads read adjacent or
// evenly spaced columns of a row, so the loads coalesce).
struct ColumnSumElement {
  int rows;
  StridedBlocks cols;
  float alpha;
  const float* y;
  int ld;
  float* sums;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const int column = cols.index(static_cast<int>(i));
    float sum = 0.0f;
    for (int r = 0; r < rows; ++r) sum += y[static_cast<long long>(r) * ld + column];
    sums[column] += alpha * sum;
  }
};

}  // namespace caffe
