// The non-zeros of a dense float tensor, row by row (compressed sparse rows, CSR), built on either
// device.  A row is a strided line of the tensor (RowLayout), so one code compresses a
// convolution's top gradient [N, O, S] by (image, channel) rows, whose entries are positions, or
// by (image, group, position) rows, whose entries are the group's channels.
//
// Two passes over the tensor: Count (the non-zeros of each row, then a prefix sum into the row
// offsets; its total tells the caller the density before anything else is spent) and Fill (the
// entries).  Zero is compared as a float: -0 is zero, NaN is not (it propagates as in a dense
// product).
#pragma once

#include <memory>

#include "caffe/core/synced_memory.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// Which elements form the rows: row r is (outer, inner) = (r / inner_rows, r % inner_rows), and
// its t-th element (t < length) is data[outer · outer_stride + inner · inner_stride + t · step].
struct RowLayout {
  int rows = 0;
  int inner_rows = 1;
  long long outer_stride = 0;
  long long inner_stride = 0;
  int length = 0;
  long long step = 1;

  CAFFE_HOST_DEVICE long long first(int r) const {
    return (r / inner_rows) * outer_stride + (r % inner_rows) * inner_stride;
  }
  long long elements() const { return static_cast<long long>(rows) * length; }
};

// offsets[r + 1] = the number of non-zeros in row r (offsets[0] = 0 is set elsewhere).
struct CountRowNonzeros {
  RowLayout layout;
  const float* data;
  int* offsets;
  CAFFE_HOST_DEVICE void operator()(long long r) const {
    const float* row = data + layout.first(static_cast<int>(r));
    int count = 0;
    for (int t = 0; t < layout.length; ++t) count += row[t * layout.step] != 0.0f;
    offsets[r + 1] = count;
  }
};

// Writes row r's non-zeros (place in the row, value) from offsets[r] on.  Every element is
// written at the next free entry, which advances past non-zeros only (no branch on the data to
// mispredict); the loop ends when the row's entries are full, so it never writes past them.
struct FillRowNonzeros {
  RowLayout layout;
  const float* data;
  const int* offsets;
  int* indices;
  float* values;
  CAFFE_HOST_DEVICE void operator()(long long r) const {
    const float* row = data + layout.first(static_cast<int>(r));
    const int end = offsets[r + 1];
    int entry = offsets[r];
    for (int t = 0; t < layout.length && entry < end; ++t) {
      const float value = row[t * layout.step];
      indices[entry] = t;
      values[entry] = value;
      entry += value != 0.0f;
    }
  }
};

class SparseRows {
 public:
  // Counts the non-zeros of each row of `data` (on `mode`'s device) and returns their number.
  // The layout's elements must number less than 2^31 (entries are int-indexed).
  long long Count(Mode mode, const RowLayout& layout, const float* data);
  // Stores the entries of the rows the last Count measured; `data` must be the same tensor.
  void Fill(Mode mode, const float* data);

  // For rows built on the host by the caller: sizes the buffers for `layout` and `nonzeros`
  // entries and returns them to be written (offsets has layout.rows + 1 entries).
  struct HostRows {
    int* offsets;
    int* indices;
    float* values;
  };
  HostRows WriteOnHost(const RowLayout& layout, long long nonzeros);

  const RowLayout& layout() const { return layout_; }
  long long nonzeros() const { return nonzeros_; }
  // Row r's entries are [offsets[r], offsets[r + 1]) of indices (place in the row) and values.
  const int* offsets(Mode mode) const;
  const int* indices(Mode mode) const;
  const float* values(Mode mode) const;

 private:
  RowLayout layout_;
  long long nonzeros_ = 0;
  Mode counted_on_ = Mode::CPU;
  // Grown, never shrunk; each holds at least what the last Count / Fill needed.
  std::unique_ptr<SyncedMemory> offsets_, indices_, values_;
};

#ifdef CAFFE_USE_CUDA
// offsets[1..rows] becomes its inclusive prefix sum and offsets[0] = 0, on the device; returns
// offsets[rows].
long long scan_row_counts_gpu(int* offsets, int rows);
#endif

}  // namespace caffe
