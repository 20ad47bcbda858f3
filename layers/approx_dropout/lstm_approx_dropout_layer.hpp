#pragma once

#include <vector>

#include "caffe/layers/lstm_layer.hpp"
#include "caffe/util/masked_product.hpp"
#include "layers/approx_dropout/dropout_schedule.hpp"

namespace caffe {

// LSTMApproxDropout: the LSTM with approximate random dropout on its input connections W_xc
// [4H, D] in TRAIN, for the iteration's pattern (dp, b) from approx_dropout_param.schedule_file,
// with s = 1/(1 − dropout_ratio) (scale: GLOBAL) or dp (PERIOD):
//   ROW (drop_side INPUT, also when unset): LSTM(s · keep ⊙ x), keep_k = [k mod dp = b] over D
//     (rotate_offset: token r = t·N + n keeps block (b + r) mod dp of D's dp contiguous blocks);
//   TILE: the LSTM with W_xc replaced by s · (W_xc ⊙ Mask), tile_size² tiles (TileOrder).
// Only the kept columns/tiles enter the T·N×D by D×4H input product and its two gradient products
// (MaskedProduct); b_c, W_hc, the recurrence and BPTT are the LSTM's, never
// dropped.  TEST is the plain LSTM.
class LSTMApproxDropoutLayer : public LSTMLayer {
 public:
  using LSTMLayer::LSTMLayer;
  const char* type() const override { return "LSTMApproxDropout"; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

  // Uses (period, offset) for every TRAIN pass instead of the schedule (tests, experiments).
  // Called before SetUp, the layer needs no schedule file.
  void set_fixed_pattern(int period, int offset) { patterns_.set_fixed(period, offset); }
  // The pattern of the current step: (1, 0) in TEST, else the fixed pattern or the schedule's
  // entry for iteration().
  DropPattern current_pattern() const { return patterns_.at(phase_, iteration()); }
  // What the layer's patterns range over (set up by LayerSetUp / Reshape): the schedule
  // generator's width and tile grid come from here.
  const MaskShape& mask_shape() const { return shape_; }

 protected:
  void ProjectInput(Mode mode, int rows, const float* x, const float* weight,
                    float* gates) override;
  void BackpropInput(Mode mode, int rows, const float* gates_diff, const float* x,
                     const float* weight, float* x_diff, float* weight_diff) override;

 private:
  // Takes the pattern and factor for this forward pass and plans its product; false when it
  // keeps everything unscaled (TEST, or period 1 under PERIOD), where the LSTM's dense product is
  // the same and cheaper than a planned one.
  bool BeginMaskedForward();
  bool forward_masks() const { return forward_pattern_.period > 1 || forward_scale_ != 1.0f; }

  MaskShape shape_;  // over W_xc: M = 4H, K = D; InputColumns or Tiles
  approx_dropout::PatternSource patterns_;
  DropPattern forward_pattern_;  // pattern of the last forward, for backward
  float forward_scale_ = 1.0f;   // its factor s
  MaskedProduct product_;
};

}  // namespace caffe
