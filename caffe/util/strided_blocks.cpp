#include "caffe/util/strided_blocks.hpp"

#include "caffe/core/common.hpp"
#include "caffe/util/parallel.hpp"

namespace caffe {

StridedBlocks::StridedBlocks(int total, int block, int first, int stride)
    : total_(total), block_(block), first_(first), stride_(stride) {
  if (total < 0 || block < 1 || first < 0 || stride < 1) {
    fail("invalid strided selection (total ", total, ", block ", block, ", first ", first,
         ", stride ", stride, ")");
  }
  const int grid_blocks = (total + block - 1) / block;
  if (first >= grid_blocks) return;
  blocks_ = (grid_blocks - 1 - first) / stride + 1;
  const int last = first + (blocks_ - 1) * stride;
  // Only the grid's last block can be short.
  count_ = blocks_ * block - (last == grid_blocks - 1 ? grid_blocks * block - total : 0);
}

namespace {

// Calls fn(row index, row position, next row index or -1) for every selected row; the rows are
// split over the CPU threads when there are enough elements (rows × columns_per_row) to pay the
// hand-off.
template <typename Fn>
void for_each_row_parallel(const StridedBlocks& rows, int columns_per_row, Fn&& fn) {
  constexpr long long kMinChunkElements = 1 << 15;
  const long long min_rows = std::max(1LL, kMinChunkElements / std::max(columns_per_row, 1));
  parallel_for(rows.count(), min_rows, [&](long long begin, long long end) {
    for (long long position = begin; position < end; ++position) {
      const int next = position + 1 < end ? rows.index(static_cast<int>(position + 1)) : -1;
      fn(rows.index(static_cast<int>(position)), position, next);
    }
  });
}

// Calls fn(c, column) for the selected columns of one row as cols.for_each_index does, and
// prefetches the same span of the next selected row (`next`, null for none) one cache line at a
// time, while this one is read.  Rows picked at a stride (the kept rows of W that a ROW pattern
// packs) defeat the hardware prefetchers, which start over at each row: streaming every 2nd row
// of 8 KB took 1.4× the time of all rows without this, 0.4× with it (docs/benchmarks.md,
// "ROW at the limit").  The scatter, which writes, measured no gain from it.
template <typename Fn>
void for_each_column_prefetching(const StridedBlocks& cols, const float* next, Fn&& fn) {
  constexpr int kLineFloats = 16;
  const int step = cols.spacing();
  if (next == nullptr || step == 0 || step > kLineFloats) {
    cols.for_each_index(fn);
    return;
  }
  const int per_line = kLineFloats / step;  // columns per cache line of the row
  const int start = cols.start();
  for (int first = 0; first < cols.count(); first += per_line) {
    __builtin_prefetch(next + start + first * step, 0);
    const int stop = std::min(cols.count(), first + per_line);
    for (int column = first; column < stop; ++column) fn(start + column * step, column);
  }
}

void host_gather(const StridedBlocks& rows, const StridedBlocks& cols, const float* src, int ld,
                 float* dst) {
  const int width = cols.count();
  for_each_row_parallel(rows, width, [&](int r, long long position, int next) {
    const float* row = src + static_cast<long long>(r) * ld;
    const float* next_row = next < 0 ? nullptr : src + static_cast<long long>(next) * ld;
    float* out = dst + position * width;
    for_each_column_prefetching(cols, next_row, [&](int c, int column) { out[column] = row[c]; });
  });
}

void host_scatter(const StridedBlocks& rows, const StridedBlocks& cols, float alpha,
                  const float* src, float beta, float* dst, int ld) {
  const int width = cols.count();
  for_each_row_parallel(rows, width, [&](int r, long long position, int /*next*/) {
    float* row = dst + static_cast<long long>(r) * ld;
    const float* in = src + position * width;
    if (beta == 0.0f) {
      cols.for_each_index([&](int c, int column) { row[c] = alpha * in[column]; });
    } else {
      cols.for_each_index([&](int c, int column) { row[c] = alpha * in[column] + beta * row[c]; });
    }
  });
}

void host_add_to_columns(int rows, const StridedBlocks& cols, float alpha, const float* v, float* y,
                         int ld) {
  for (int r = 0; r < rows; ++r) {
    float* row = y + static_cast<long long>(r) * ld;
    cols.for_each_index([&](int c, int) { row[c] += alpha * v[c]; });
  }
}

void host_accumulate_column_sums(int rows, const StridedBlocks& cols, float alpha, const float* y,
                                 int ld, float* sums) {
  for (int r = 0; r < rows; ++r) {
    const float* row = y + static_cast<long long>(r) * ld;
    cols.for_each_index([&](int c, int) { sums[c] += alpha * row[c]; });
  }
}

}  // namespace

// The device runs the element-wise forms (one thread per element); the host runs the row loops
// above, whose strided inner loops are several times faster than an index computation per element.
void gather(Mode mode, const StridedBlocks& rows, const StridedBlocks& cols, const float* src,
            int ld, float* dst) {
  if (mode == Mode::GPU) {
    for_each(mode, static_cast<long long>(rows.count()) * cols.count(),
             GatherElement{rows, cols, src, ld, dst});
  } else {
    host_gather(rows, cols, src, ld, dst);
  }
}

void scatter(Mode mode, const StridedBlocks& rows, const StridedBlocks& cols, float alpha,
             const float* src, float beta, float* dst, int ld) {
  if (mode == Mode::GPU) {
    for_each(mode, static_cast<long long>(rows.count()) * cols.count(),
             ScatterElement{rows, cols, alpha, src, beta, dst, ld});
  } else {
    host_scatter(rows, cols, alpha, src, beta, dst, ld);
  }
}

void add_to_columns(Mode mode, int rows, const StridedBlocks& cols, float alpha, const float* v,
                    float* y, int ld) {
  if (mode == Mode::GPU) {
    for_each(mode, static_cast<long long>(rows) * cols.count(),
             AddToColumnsElement{cols, alpha, v, y, ld});
  } else {
    host_add_to_columns(rows, cols, alpha, v, y, ld);
  }
}

void accumulate_column_sums(Mode mode, int rows, const StridedBlocks& cols, float alpha,
                            const float* y, int ld, float* sums) {
  if (mode == Mode::GPU) {
    for_each(mode, cols.count(), ColumnSumElement{rows, cols, alpha, y, ld, sums});
  } else {
    host_accumulate_column_sums(rows, cols, alpha, y, ld, sums);
  }
}

}  // namespace caffe
