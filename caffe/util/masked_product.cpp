#include "caffe/util/masked_product.hpp"

#include <atomic>
#include <climits>
#include <cstdlib>
#include <numeric>
#include <string>

#include "caffe/core/common.hpp"

namespace caffe {

long long MaskShape::width() const {
  switch (kind) {
    case MaskKind::OutputRows:
      return outputs;
    case MaskKind::InputColumns:
      return inputs;
    case MaskKind::Tiles:
      return static_cast<long long>(tile_rows()) * tile_cols();
  }
  return 0;
}

namespace {

// The indices [begin, end) (a selection whose grid ends at `end`).
StridedBlocks index_range(int begin, int end) { return StridedBlocks(end, 1, begin, 1); }

// The first index k >= from with k ≡ pattern.offset (mod pattern.period).
long long first_residue(long long from, DropPattern pattern) {
  return from + ((pattern.offset - from) % pattern.period + pattern.period) % pattern.period;
}

}  // namespace

StridedBlocks kept_units(int total, DropPattern pattern) {
  if (pattern.period == 1) return StridedBlocks::all(total);
  if (!pattern.blocks) return StridedBlocks(total, 1, pattern.offset, pattern.period);
  const auto edge = [&](int block) {
    return static_cast<int>(static_cast<long long>(block) * total / pattern.period);
  };
  return index_range(edge(pattern.offset), edge(pattern.offset + 1));
}

namespace {

// The indices k < total in class a and in class b.  Two sets of residues: by the Chinese
// remainder theorem every lcm(a.period, b.period)-th index from the first common one, or none
// (the first one, if any, is among the first b.period / gcd terms of a's progression).  A run
// (blocks) and residues: the residues within the run; two runs: their overlap.
StridedBlocks common_indices(int total, DropPattern a, DropPattern b) {
  if (a.period == 1 || b.period == 1) return kept_units(total, a.period == 1 ? b : a);
  if (a.blocks || b.blocks) {
    const StridedBlocks run = kept_units(total, a.blocks ? a : b);
    const DropPattern other = a.blocks ? b : a;
    const int end = run.start() + run.count();
    if (other.blocks) {
      const StridedBlocks second = kept_units(total, other);
      return index_range(std::max(run.start(), second.start()),  // empty if they do not meet
                         std::min(end, second.start() + second.count()));
    }
    const long long first = first_residue(run.start(), other);
    return first < end ? StridedBlocks(end, 1, static_cast<int>(first), other.period)
                       : StridedBlocks(total, 1, total, 1);
  }
  const long long lcm = static_cast<long long>(a.period) / std::gcd(a.period, b.period) * b.period;
  for (long long k = a.offset; k < total && k < a.offset + lcm; k += a.period) {
    if (k % b.period == b.offset) {
      return StridedBlocks(total, 1, static_cast<int>(k),
                           static_cast<int>(std::min<long long>(lcm, total)));
    }
  }
  return StridedBlocks(total, 1, total, 1);  // selects nothing
}

}  // namespace

std::vector<ProductBlock> plan_product_blocks(const MaskShape& shape, DropPattern pattern,
                                              DropPattern live_inputs) {
  const int dp = pattern.period;
  const int b = pattern.offset;
  const int M = shape.outputs;
  const int K = shape.inputs;
  std::vector<ProductBlock> blocks;
  const auto add = [&](const StridedBlocks& rows, const StridedBlocks& cols, int batch_first = 0,
                       int batch_spacing = 1) {
    if (rows.count() > 0 && cols.count() > 0) {
      blocks.push_back({rows, cols, batch_first, batch_spacing});
    }
  };
  if (dp == 1) {  // nothing dropped, whatever the kind
    add(StridedBlocks::all(M), kept_units(K, live_inputs));
    return blocks;
  }
  switch (shape.kind) {
    case MaskKind::OutputRows:
      add(kept_units(M, pattern), kept_units(K, live_inputs));
      break;
    case MaskKind::InputColumns:
      if (!shape.rotate_offset) {
        add(StridedBlocks::all(M), common_indices(K, pattern, live_inputs));
        break;
      }
      for (int c = 0; c < dp; ++c) {  // batch row r keeps class (b + r) mod dp = c
        add(StridedBlocks::all(M), kept_units(K, {dp, c, pattern.blocks}), ((c - b) % dp + dp) % dp,
            dp);
      }
      break;
    case MaskKind::Tiles: {
      const int row_step = shape.tile_order == TileOrder::RowMajor ? shape.tile_cols() : 1;
      const int row_cycle = dp / std::gcd(row_step, dp);  // P: period of φ(r) in r
      const int groups = std::min(shape.tile_rows(), row_cycle);
      for (int r0 = 0; r0 < groups; ++r0) {
        const long long phase = ((b - static_cast<long long>(r0) * row_step) % dp + dp) % dp;
        add(StridedBlocks(M, shape.tile_size, r0, row_cycle),
            StridedBlocks(K, shape.tile_size, static_cast<int>(phase), dp));
      }
      break;
    }
  }
  return blocks;
}

// ----- skipping known-zero input columns -----

namespace {
std::atomic<bool>& column_skip_flag() {
  static std::atomic<bool> enabled([] {
    const char* value = std::getenv("CAFFE_NO_PATTERN_SKIP");
    return value == nullptr || std::string(value).empty() || std::string(value) == "0";
  }());
  return enabled;
}
}  // namespace

bool column_skip_enabled() { return column_skip_flag().load(std::memory_order_relaxed); }

void set_column_skip_enabled(bool enabled) {
  column_skip_flag().store(enabled, std::memory_order_relaxed);
}

DropPattern live_input_columns(const Blob& input, int inputs) {
  const ColumnPattern& pattern = input.column_pattern();
  if (pattern.dense() || pattern.width != inputs || !column_skip_enabled()) return {1, 0};
  return {pattern.period, pattern.offset, pattern.blocks};
}

// ----- MaskedProduct -----

void MaskedProduct::configure(const MaskShape& shape, DropPattern pattern, DropPattern live_inputs,
                              float scale) {
  scale_ = scale;
  if (planned_ && shape == shape_ && pattern == pattern_ && live_inputs == live_inputs_) return;
  shape_ = shape;
  pattern_ = pattern;
  live_inputs_ = live_inputs;
  blocks_ = plan_product_blocks(shape, pattern, live_inputs);
  layouts_.clear();
  int kept_outputs = 0;  // Σ rows, Σ cols over blocks that share their batch rows
  int kept_inputs = 0;
  x_packed_cols_ = weight_packed_size_ = dweight_scratch_size_ = 0;
  rows_scratch_cols_ = dx_scratch_cols_ = 0;
  for (const ProductBlock& block : blocks_) {
    Layout layout{};
    // Every dp-th row of x in place slowed the GEMMs of a rotated block (oneDNN, 700 x 650 by
    // 650 x 10000 at dp = 7: forward 16.5 ms against 13.6 ms with x packed), so it is packed.
    layout.x_in_place = block.cols.contiguous() && block.batch_spacing == 1;
    // W's kept entries need unit stride along its storage rows and even spacing across them.
    layout.weight_in_place = shape.transposed ? block.rows.contiguous() && block.cols.spacing() > 0
                                              : block.cols.contiguous() && block.rows.spacing() > 0;
    layout.y_in_place = block.rows.contiguous();
    layout.x_offset = x_packed_cols_;
    layout.weight_offset = weight_packed_size_;
    const long long block_size = static_cast<long long>(block.rows.count()) * block.cols.count();
    if (!layout.x_in_place) {
      x_packed_cols_ += block.cols.count();
      dx_scratch_cols_ = std::max(dx_scratch_cols_, block.cols.count());
    }
    if (!layout.weight_in_place) {
      weight_packed_size_ += block_size;
      dweight_scratch_size_ = std::max(dweight_scratch_size_, block_size);
    }
    if (!layout.y_in_place) rows_scratch_cols_ = std::max(rows_scratch_cols_, block.rows.count());
    kept_outputs += block.rows.count();
    kept_inputs += block.cols.count();
    layouts_.push_back(layout);
  }
  const bool rotated = !blocks_.empty() && blocks_[0].batch_spacing > 1;
  // Rotated blocks each cover all outputs of their own batch rows, and a 1/dp of the inputs.
  covers_outputs_ =
      rotated ? static_cast<int>(blocks_.size()) == pattern.period : kept_outputs == shape.outputs;
  covers_inputs_ = !rotated && kept_inputs == shape.inputs;
  planned_ = true;
}

long long MaskedProduct::weight_index(int row, int col) const {
  return shape_.transposed ? static_cast<long long>(col) * shape_.outputs + row
                           : static_cast<long long>(row) * shape_.inputs + col;
}

int MaskedProduct::weight_ld_in_place(const ProductBlock& block) const {
  return shape_.transposed ? block.cols.spacing() * shape_.outputs
                           : block.rows.spacing() * shape_.inputs;
}

namespace {
// Where a selection of batch rows starts in a row-major [batch, width] matrix, and the leading
// dimension that steps from one selected row to the next.
struct RowStep {
  long long offset;
  int ld;
};
RowStep row_step(const StridedBlocks& batch_rows, int width) {
  return {static_cast<long long>(batch_rows.start()) * width, batch_rows.spacing() * width};
}

// Reshapes a buffer to `size` floats (capacity is kept when it shrinks).
float* buffer(Mode mode, Blob& blob, long long size) {
  if (size > INT_MAX) fail("approximate dropout buffer of ", size, " floats is too large");
  if (size > 0 && blob.count() != size) blob.Reshape({static_cast<int>(size)});
  return size > 0 ? blob.mutable_data_on(mode) : nullptr;
}
}  // namespace

MaskedProduct::Operand MaskedProduct::x_operand(Mode mode, size_t index, int batch, const float* x,
                                                bool pack) {
  const ProductBlock& block = blocks_[index];
  const Layout& layout = layouts_[index];
  if (layout.x_in_place) {
    const RowStep rows = row_step(block.batch_rows(batch), shape_.inputs);
    return {x + rows.offset + block.cols.start(), rows.ld};
  }
  const long long offset = layout.x_offset * batch;
  if (pack) {
    float* packed = x_packed_.mutable_data_on(mode) + offset;
    gather(mode, block.batch_rows(batch), block.cols, x, shape_.inputs, packed);
    return {packed, block.cols.count()};
  }
  return {x_packed_.data_on(mode) + offset, block.cols.count()};
}

MaskedProduct::Operand MaskedProduct::weight_operand(Mode mode, size_t index, const float* weight,
                                                     bool pack) {
  const ProductBlock& block = blocks_[index];
  const Layout& layout = layouts_[index];
  if (layout.weight_in_place) {
    return {weight + weight_index(block.rows.start(), block.cols.start()),
            weight_ld_in_place(block)};
  }
  // Packed in W's own orientation: [rows, cols], or [cols, rows] when transposed.
  const int packed_ld = shape_.transposed ? block.rows.count() : block.cols.count();
  if (pack) {
    float* packed = weight_packed_.mutable_data_on(mode) + layout.weight_offset;
    if (shape_.transposed) {
      gather(mode, block.cols, block.rows, weight, shape_.outputs, packed);
    } else {
      gather(mode, block.rows, block.cols, weight, shape_.inputs, packed);
    }
    return {packed, packed_ld};
  }
  return {weight_packed_.data_on(mode) + layout.weight_offset, packed_ld};
}

void MaskedProduct::forward(Mode mode, int batch, const float* x, const float* weight, float* y) {
  if (!planned_) fail("MaskedProduct::forward before configure");
  const int M = shape_.outputs;
  if (batch == 0) return;
  if (!covers_outputs_) blas(mode).set(batch * M, 0.0f, y);   // outputs no block writes
  buffer(mode, x_packed_, x_packed_cols_ * batch);            // filled block by block below
  buffer(mode, weight_packed_, weight_packed_size_);
  float* rows_scratch =
      buffer(mode, rows_scratch_, static_cast<long long>(rows_scratch_cols_) * batch);
  // Y_block = s · X_block W_blockᵀ  (W_blockᵀ is what a transposed W stores).
  const Trans weight_trans = shape_.transposed ? Trans::No : Trans::Yes;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const ProductBlock& block = blocks_[i];
    const StridedBlocks batch_rows = block.batch_rows(batch);
    const int n = batch_rows.count();
    if (n == 0) continue;
    const Operand xs = x_operand(mode, i, batch, x, true);
    const Operand ws = weight_operand(mode, i, weight, true);
    const int rows = block.rows.count();
    if (layouts_[i].y_in_place) {
      const RowStep ys = row_step(batch_rows, M);
      blas(mode).gemm_ld(Trans::No, weight_trans, n, rows, block.cols.count(), scale_, xs.data,
                         xs.ld, ws.data, ws.ld, 0.0f, y + ys.offset + block.rows.start(), ys.ld);
    } else {
      blas(mode).gemm_ld(Trans::No, weight_trans, n, rows, block.cols.count(), scale_, xs.data,
                         xs.ld, ws.data, ws.ld, 0.0f, rows_scratch, rows);
      scatter(mode, batch_rows, block.rows, 1.0f, rows_scratch, 0.0f, y, M);
    }
  }
}

void MaskedProduct::backward(Mode mode, int batch, const float* dy, const float* x,
                             const float* weight, float* dx, float* dweight) {
  if (!planned_) fail("MaskedProduct::backward before configure");
  const int M = shape_.outputs;
  const int K = shape_.inputs;
  if (batch == 0) return;
  if (dx && !covers_inputs_) blas(mode).set(batch * K, 0.0f, dx);  // inputs no block reads
  float* rows_scratch =
      buffer(mode, rows_scratch_, static_cast<long long>(rows_scratch_cols_) * batch);
  float* dx_scratch =
      dx ? buffer(mode, dx_scratch_, static_cast<long long>(dx_scratch_cols_) * batch) : nullptr;
  float* dweight_scratch =
      dweight ? buffer(mode, dweight_scratch_, dweight_scratch_size_) : nullptr;
  const bool transposed = shape_.transposed;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const ProductBlock& block = blocks_[i];
    const Layout& layout = layouts_[i];
    const StridedBlocks batch_rows = block.batch_rows(batch);
    const int n = batch_rows.count();
    if (n == 0) continue;
    const int rows = block.rows.count();
    const int cols = block.cols.count();
    // The block's output gradients G [n, rows].
    const RowStep dys = row_step(batch_rows, M);
    Operand g{dy + dys.offset + block.rows.start(), dys.ld};
    if (!layout.y_in_place) {
      gather(mode, batch_rows, block.rows, dy, M, rows_scratch);
      g = {rows_scratch, rows};
    }
    if (dx) {  // dX_block = s · G W_block
      const Operand ws = weight_operand(mode, i, weight, false);
      const Trans weight_trans = transposed ? Trans::Yes : Trans::No;
      if (layout.x_in_place) {
        const RowStep dxs = row_step(batch_rows, K);
        blas(mode).gemm_ld(Trans::No, weight_trans, n, cols, rows, scale_, g.data, g.ld, ws.data,
                           ws.ld, 0.0f, dx + dxs.offset + block.cols.start(), dxs.ld);
      } else {
        blas(mode).gemm_ld(Trans::No, weight_trans, n, cols, rows, scale_, g.data, g.ld, ws.data,
                           ws.ld, 0.0f, dx_scratch, cols);
        scatter(mode, batch_rows, block.cols, 1.0f, dx_scratch, 0.0f, dx, K);
      }
    }
    if (dweight) {  // dW_block += s · Gᵀ X_block, or dW_blockᵀ += s · X_blockᵀ G when transposed
      const Operand xs = x_operand(mode, i, batch, x, false);
      const Operand first = transposed ? xs : g;
      const Operand second = transposed ? g : xs;
      const int out_rows = transposed ? cols : rows;
      const int out_cols = transposed ? rows : cols;
      if (layout.weight_in_place) {
        blas(mode).gemm_ld(Trans::Yes, Trans::No, out_rows, out_cols, n, scale_, first.data,
                           first.ld, second.data, second.ld, 1.0f,
                           dweight + weight_index(block.rows.start(), block.cols.start()),
                           weight_ld_in_place(block));
      } else {
        blas(mode).gemm_ld(Trans::Yes, Trans::No, out_rows, out_cols, n, scale_, first.data,
                           first.ld, second.data, second.ld, 0.0f, dweight_scratch, out_cols);
        if (transposed) {
          scatter(mode, block.cols, block.rows, 1.0f, dweight_scratch, 1.0f, dweight, M);
        } else {
          scatter(mode, block.rows, block.cols, 1.0f, dweight_scratch, 1.0f, dweight, K);
        }
      }
    }
  }
}

}  // namespace caffe
