#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "layers/approx_dropout/approx_pattern.hpp"
#include "layers/approx_dropout/dropout_schedule.hpp"

namespace caffe {

// InnerProductApproxDropout: InnerProduct (x [B, K], W [M, K], bias [M]) with approximate random
// dropout in TRAIN for the iteration's pattern (dp, b) from approx_dropout_param.schedule_file:
//   ROW, OUTPUT: y = dp · keep ⊙ (x Wᵀ + bias), keep_j = [j mod dp = b];
//   ROW, INPUT:  y = (dp · keep ⊙ x) Wᵀ + bias;   TILE: y = dp · x (W ⊙ Mask)ᵀ + bias.
// Only the kept rows/columns/tiles are computed (approx_dropout::MaskedProduct); TEST is plain IP.
// ROW OUTPUT with dp > 1 marks its top's ColumnPattern (dp, b, M): the next fully connected layer
// skips the dropped columns.  This layer skips the columns its bottom's pattern marks too, like
// InnerProduct (see there, also for the bottom gradient, which is zero in skipped columns),
// combined with its own pattern: the common columns of both patterns (ROW INPUT), all rows and
// the live columns (dp = 1, TEST), or rows every dp-th and the live columns (ROW OUTPUT, from 32
// rows per batch on: below, packing costs more than it saves); TILE patterns with dp > 1 do not
// skip.
class InnerProductApproxDropoutLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "InnerProductApproxDropout"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  // Uses (period, offset) for every TRAIN pass instead of the schedule (tests, experiments).
  // Called before SetUp, the layer needs no schedule file.
  void set_fixed_pattern(int period, int offset) { patterns_.set_fixed(period, offset); }
  // The pattern of the current step: (1, 0) in TEST, else the fixed pattern or the schedule's
  // entry for iteration().
  approx_dropout::DropPattern current_pattern() const {
    return patterns_.at(phase_, iteration());
  }
  // What the layer's patterns range over (set up by LayerSetUp / Reshape): the schedule
  // generator's width and tile grid come from here.
  const approx_dropout::MaskShape& mask_shape() const { return shape_; }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif
  void PropagateColumnPattern(const BlobVec& bottom, const BlobVec& top) override;

 private:
  void ForwardOn(const approx_dropout::ApproxOps& ops, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(const approx_dropout::ApproxOps& ops, const BlobVec& top,
                  const std::vector<bool>& propagate_down, const BlobVec& bottom);
  void CheckLoadedBlobs();
  // The outputs the bias reaches and its factor: the kept ones times dp for ROW OUTPUT, else all.
  approx_dropout::StridedBlocks biased_outputs(approx_dropout::DropPattern pattern) const;
  // The input columns the product reads for the pattern and the bottom's ColumnPattern.
  approx_dropout::DropPattern live_inputs(approx_dropout::DropPattern pattern,
                                          const Blob& input) const;
  float bias_scale(approx_dropout::DropPattern pattern) const;

  approx_dropout::MaskShape shape_;  // kind, M = num_output, K, tile size
  int axis_ = 1;                     // first bottom axis folded into K
  int batch_ = 0;                    // B: product of the bottom axes before axis_
  bool bias_term_ = true;
  approx_dropout::PatternSource patterns_;
  approx_dropout::DropPattern forward_pattern_;  // pattern of the last forward, for backward
  approx_dropout::DropPattern live_inputs_;      // live input columns of the last forward
  approx_dropout::MaskedProduct product_;
};

}  // namespace caffe
