#pragma once

#include "caffe/layers/inner_product_layer.hpp"
#include "caffe/util/masked_product.hpp"
#include "layers/approx_dropout/dropout_schedule.hpp"

namespace caffe {

// InnerProductApproxDropout: InnerProduct (x [B, K], W [M, K], bias [M]) with approximate random
// dropout in TRAIN for the iteration's pattern (dp, b) from approx_dropout_param.schedule_file,
// with s = 1/(1 − dropout_ratio) (scale: GLOBAL) or dp (PERIOD):
//   ROW, OUTPUT: y = s · keep ⊙ (x Wᵀ + bias), keep_j = [j mod dp = b];
//   ROW, INPUT:  y = (s · keep ⊙ x) Wᵀ + bias (rotate_offset: row r of x keeps block
//                (b + r) mod dp of K's dp contiguous blocks);
//   TILE: y = s · x (W ⊙ Mask)ᵀ + bias (TileOrder).
// Only the kept rows/columns/tiles are computed (MaskedProduct, through InnerProduct's projection
// hooks); TEST is plain IP.  ROW OUTPUT with dp > 1 marks its top's ColumnPattern (dp, b, M): the
// next fully connected layer skips the dropped columns.  This layer skips the columns its
// bottom's pattern marks too, like InnerProduct (see there, also for the bottom gradient, which
// is zero in skipped columns), combined with its own pattern: the common columns of both patterns
// (ROW INPUT), all rows and the live columns (dp = 1, TEST), or rows every dp-th and the live
// columns (ROW OUTPUT, from 32 rows per batch on: below, packing costs more than it saves); TILE
// patterns with dp > 1 and rotated ROW INPUT patterns do not skip.
class InnerProductApproxDropoutLayer : public InnerProductLayer {
 public:
  using InnerProductLayer::InnerProductLayer;
  const char* type() const override { return "InnerProductApproxDropout"; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

  // Uses (period, offset) for every TRAIN pass instead of the schedule (tests, experiments).
  // Called before SetUp, the layer needs no schedule file.
  void set_fixed_pattern(int period, int offset) { patterns_.set_fixed(period, offset); }
  // The pattern of the current step: (1, 0) in TEST, else the fixed pattern or the schedule's
  // entry for iteration().
  DropPattern current_pattern() const { return patterns_.at(phase_, iteration()); }
  // What the layer's patterns range over (set up by LayerSetUp): the schedule generator's width
  // and tile grid come from here.
  const MaskShape& mask_shape() const { return shape_; }

 protected:
  void ProjectInput(Mode mode, const Blob& input, float* y) override;
  void BackpropInput(Mode mode, const float* dy, const Blob& input, float* dx,
                     float* dweight) override;
  void AddBias(Mode mode, const float* bias, float* y) override;
  void BackpropBias(Mode mode, const float* dy, float* dbias) override;
  void PropagateColumnPattern(const BlobVec& bottom, const BlobVec& top) override;

 private:
  // The outputs the bias reaches and its factor: the kept ones times s for ROW OUTPUT, else all.
  StridedBlocks biased_outputs() const;
  float bias_scale() const;
  // The input columns the product reads for the pattern and the bottom's ColumnPattern.
  DropPattern live_inputs(DropPattern pattern, const Blob& input) const;

  MaskShape shape_;  // kind, M = num_output, K, tile size
  approx_dropout::PatternSource patterns_;
  DropPattern forward_pattern_;      // pattern of the last forward, for backward
  float forward_scale_ = 1.0f;       // its factor s
  DropPattern forward_live_inputs_;  // live input columns of the last forward
};

}  // namespace caffe
