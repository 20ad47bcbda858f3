// The masked product  Y = s · X (W ⊙ Mask)ᵀ  (X [batch, K], W [M, K], Y [batch, M]) and its
// gradients, computed as a few dense GEMMs over the kept part of W only: rows, columns or tiles
// selected by a periodic pattern are never read, multiplied or written.  Generic machinery:
// InnerProduct uses it to skip the input columns a blob's ColumnPattern marks as zero, and the
// approximate-dropout layers (layers/approx_dropout/) for their patterns.
#pragma once

#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/util/device.hpp"
#include "caffe/util/strided_blocks.hpp"

namespace caffe {

// A periodic selection: unit (or tile) t is kept iff t mod period == offset (period 1: all), or
// with `blocks` (units only) iff t lies in the offset-th of `period` contiguous blocks of the
// units, floor(offset·W/period) <= t < floor((offset+1)·W/period) for W units.
struct DropPattern {
  int period = 1;
  int offset = 0;
  bool blocks = false;
  bool operator==(const DropPattern& other) const {
    return period == other.period && offset == other.offset && blocks == other.blocks;
  }
};

// The units of class `pattern` among `total` (every one for period 1).
StridedBlocks kept_units(int total, DropPattern pattern);

// What a pattern ranges over.
enum class MaskKind {
  OutputRows,    // output units = rows of W
  InputColumns,  // input units = columns of W
  Tiles,         // tile_size x tile_size tiles of W (edge tiles smaller), see TileOrder
};

// Which tiles (r, c) of the R x C tile grid a Tiles pattern (dp, b) keeps.
enum class TileOrder {
  RowMajor,   // t = r·C + c, kept iff t ≡ b (mod dp); when dp divides C every tile row keeps
              // the same tile columns
  Staggered,  // kept iff r + c ≡ b (mod dp): each tile row keeps the columns of the row above
              // shifted by one
};

struct MaskShape {
  MaskKind kind = MaskKind::OutputRows;
  int outputs = 0;          // M
  int inputs = 0;           // K
  int tile_size = 1;        // Tiles only
  bool transposed = false;  // W is stored as Wᵀ [K, M] (InnerProduct's transpose: true)
  TileOrder tile_order = TileOrder::RowMajor;  // Tiles only
  // InputColumns only: batch row r keeps the columns of class (b + r) mod dp instead of b.
  bool rotate_offset = false;
  int tile_rows() const { return (outputs + tile_size - 1) / tile_size; }
  int tile_cols() const { return (inputs + tile_size - 1) / tile_size; }
  // Units (or tiles) the pattern ranges over: the largest period that keeps anything.
  long long width() const;
  bool operator==(const MaskShape& other) const {
    return kind == other.kind && outputs == other.outputs && inputs == other.inputs &&
           tile_size == other.tile_size && transposed == other.transposed &&
           tile_order == other.tile_order && rotate_offset == other.rotate_offset;
  }
};

// A dense piece of the kept part of W: the selected rows × the selected columns, for the batch
// rows r ≡ batch_first (mod batch_spacing) (all of them unless the offset rotates).
struct ProductBlock {
  StridedBlocks rows;  // output units
  StridedBlocks cols;  // input units
  int batch_first = 0;
  int batch_spacing = 1;
  StridedBlocks batch_rows(int batch) const {
    return batch_spacing == 1 ? StridedBlocks::all(batch)
                              : StridedBlocks(batch, 1, batch_first, batch_spacing);
  }
};

// Splits the kept part of W into ProductBlocks with pairwise disjoint rows and disjoint columns
// (blocks that keep nothing are left out).  `live_inputs` (period dp', offset b', blocks) says
// which input columns may be non-zero, its class of kept_units(): columns outside it contribute
// nothing to the product, so blocks leave them out as well ({1, 0}: every column).
// The units of a class are kept_units(): every dp-th from b on, or (blocks) one contiguous run.
//   dp = 1:       one block: all rows, the live columns (whatever the kind: nothing is dropped).
//   OutputRows:   one block: the rows of class b, the live columns.
//   InputColumns: one block: all rows, the columns in class b and live, an evenly spaced set
//                 again (residues: period lcm(dp, dp'); a run and residues: the residues within
//                 the run) or empty.  With rotate_offset, dp blocks: block c has all rows and the
//                 columns of class c, for the batch rows r ≡ c − b (mod dp); the live columns
//                 are not used.
//   Tiles:        tile (r, c) of the R×C tile grid is kept iff (r·S + c) ≡ b (mod dp), with the
//                 row step S = C (RowMajor) or 1 (Staggered), so tile row r keeps every dp-th
//                 tile column from φ(r) = (b − r·S) mod dp on.  φ has period P = dp / gcd(S, dp)
//                 in r: the tile rows r0, r0 + P, r0 + 2P, ... share their kept columns, one
//                 block per r0 < min(R, P) (at most dp blocks).  The live columns are not used
//                 (they would break the blocks' even spacing).
std::vector<ProductBlock> plan_product_blocks(const MaskShape& shape, DropPattern pattern,
                                              DropPattern live_inputs = {});

// The input columns a fully connected layer with `inputs` columns may skip: the input blob's
// ColumnPattern as a DropPattern when it describes rows of exactly `inputs` units and skipping is
// enabled, else {1, 0} (every column is live).
DropPattern live_input_columns(const Blob& input, int inputs);
// Whether fully connected layers skip the input columns a ColumnPattern marks as zero.  On unless
// the environment variable CAFFE_NO_PATTERN_SKIP is set to a value other than "" or "0" when it is
// first read; set_column_skip_enabled overrides it (tests compare the two paths).  The skipped
// path gives the same tops and parameter gradients as the dense one (up to float rounding); its
// bottom gradient is zero in the skipped columns (see InnerProductLayer).
bool column_skip_enabled();
void set_column_skip_enabled(bool enabled);

// Y = s · X (W ⊙ Mask)ᵀ and its gradients, one GEMM per ProductBlock over the kept part only.
// A rotated block's rows of y and dy are used in place at a leading dimension of batch_spacing
// rows, its rows of x packed.
// Per block, the selected columns of X and the kept entries of W are used in place when their
// layout allows a leading dimension (contiguous columns; evenly spaced rows, e.g. the kept rows
// of an OutputRows pattern at leading dimension dp·K; for a transposed W, contiguous rows and
// evenly spaced columns), otherwise packed once per forward; outputs of non-contiguous rows are
// computed packed and scattered.
class MaskedProduct {
 public:
  // Sets the geometry, the pattern and the live input columns (see plan_product_blocks), and the
  // factor s of the kept part (approximate dropout's scaling; 1 for a plain product); replans
  // only when the geometry, the pattern or the live columns changed.
  void configure(const MaskShape& shape, DropPattern pattern, DropPattern live_inputs = {},
                 float scale = 1.0f);
  const std::vector<ProductBlock>& blocks() const { return blocks_; }

  // y [batch, M] = s · x [batch, K] (W ⊙ Mask)ᵀ.
  void forward(Mode mode, int batch, const float* x, const float* weight, float* y);
  // dx = s · dy (W ⊙ Mask) (overwritten; zero in dropped columns and in columns that are not
  // live) and dweight += s · Mask ⊙ (dyᵀ x) (dropped entries and the columns that are not live
  // untouched: x is zero there, so their gradient is); either may be null.  Reuses what the forward
  // of the same x and weight packed, so it must follow that forward.
  void backward(Mode mode, int batch, const float* dy, const float* x, const float* weight,
                float* dx, float* dweight);

 private:
  struct Layout {             // how one block's operands are addressed
    bool x_in_place;          // the block's columns of x are contiguous
    bool weight_in_place;     // ... and its rows evenly spaced: W is used with a leading dimension
    bool y_in_place;          // the block's rows (output columns of y) are contiguous
    long long x_offset;       // in x_packed_, per batch row
    long long weight_offset;  // in weight_packed_
  };
  struct Operand {
    const float* data;
    int ld;
  };
  // Offset of W's entry (row, col) (W stored [M, K], or [K, M] when transposed) and the leading
  // dimension that addresses a block's kept weights in place.
  long long weight_index(int row, int col) const;
  int weight_ld_in_place(const ProductBlock& block) const;
  // A block's columns of x and its kept weights: in place, or packed (pack: gather them now;
  // else use what the forward packed).
  Operand x_operand(Mode mode, size_t block, int batch, const float* x, bool pack);
  Operand weight_operand(Mode mode, size_t block, const float* weight, bool pack);

  MaskShape shape_;
  DropPattern pattern_;
  DropPattern live_inputs_;
  float scale_ = 1.0f;
  bool planned_ = false;
  std::vector<ProductBlock> blocks_;
  std::vector<Layout> layouts_;
  bool covers_outputs_ = false;  // every entry of y is written by some block (else zeroed first)
  bool covers_inputs_ = false;   // every entry of dx is written by some block (else zeroed first)
  // Buffer sizes: per batch row (x, rows, dx) or in all (weights).
  long long x_packed_cols_ = 0;
  long long weight_packed_size_ = 0;
  int rows_scratch_cols_ = 0;
  int dx_scratch_cols_ = 0;
  long long dweight_scratch_size_ = 0;
  Blob x_packed_;       // forward's packed columns of x, reused by backward
  Blob weight_packed_;  // forward's packed kept weights, reused by backward
  Blob rows_scratch_;   // packed outputs (forward) / packed output gradients (backward)
  Blob dx_scratch_;
  Blob dweight_scratch_;
};

}  // namespace caffe
