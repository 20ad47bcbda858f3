#include "layers/approx_dropout/lstm_approx_dropout_layer.hpp"

#include <climits>

#include "caffe/core/layer_registry.hpp"

namespace caffe {

using approx_dropout::DropPattern;
using approx_dropout::MaskKind;

void LSTMApproxDropoutLayer::set_fixed_pattern(int period, int offset) {
  // The width is checked when the pattern is used (the layer may not be set up yet).
  approx_dropout::check_pattern({period, offset}, LLONG_MAX);
  fixed_pattern_ = DropPattern{period, offset};
}

DropPattern LSTMApproxDropoutLayer::current_pattern() const {
  if (phase_ == TEST) return {1, 0};
  if (!fixed_pattern_ && !schedule_) fail("has no dropout pattern yet: set the layer up first");
  const DropPattern pattern = fixed_pattern_ ? *fixed_pattern_ : schedule_->pattern_at(iteration());
  approx_dropout::check_pattern(pattern, shape_.width());
  return pattern;
}

void LSTMApproxDropoutLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const ApproxDropoutParameter& dropout = layer_param_.approx_dropout_param();
  // The proto's default side is OUTPUT (for InnerProductApproxDropout); here only an explicit
  // OUTPUT counts, and it is refused: dropping hidden units would cut the recurrence.  TILE
  // ranges over W_xc whatever the side says (as the generator reads it).
  const bool tiles = dropout.pattern() == ApproxDropoutParameter::TILE;
  if (!tiles && dropout.has_drop_side() && dropout.drop_side() == ApproxDropoutParameter::OUTPUT) {
    fail("approx_dropout_param.drop_side: OUTPUT is not supported: LSTMApproxDropout drops only ",
         "its input connections; use drop_side: INPUT (the default here) or pattern: TILE");
  }
  if (tiles && (dropout.tile_size() == 0 || dropout.tile_size() > INT_MAX)) {
    fail("approx_dropout_param.tile_size must be positive, got ", dropout.tile_size());
  }
  LSTMLayer::LayerSetUp(bottom, top);
  shape_.kind = tiles ? MaskKind::Tiles : MaskKind::InputColumns;
  shape_.outputs = gate_width();
  shape_.inputs = input_size();
  shape_.tile_size = tiles ? static_cast<int>(dropout.tile_size()) : 1;
  if (phase_ == TRAIN && !fixed_pattern_) schedule_.emplace(dropout, shape_.width());
}

bool LSTMApproxDropoutLayer::BeginMaskedForward() {
  forward_pattern_ = current_pattern();
  if (!forward_drops()) return false;
  product_.configure(shape_, forward_pattern_);
  return true;
}

void LSTMApproxDropoutLayer::ProjectInput_cpu(int rows, const float* x, const float* weight,
                                              float* gates) {
  if (!BeginMaskedForward()) {
    LSTMLayer::ProjectInput_cpu(rows, x, weight, gates);
    return;
  }
  product_.forward(approx_dropout::kCpuApproxOps, rows, x, weight, gates);
}

void LSTMApproxDropoutLayer::BackpropInput_cpu(int rows, const float* gates_diff, const float* x,
                                               const float* weight, float* x_diff,
                                               float* weight_diff) {
  if (!forward_drops()) {
    LSTMLayer::BackpropInput_cpu(rows, gates_diff, x, weight, x_diff, weight_diff);
    return;
  }
  product_.backward(approx_dropout::kCpuApproxOps, rows, gates_diff, x, weight, x_diff,
                    weight_diff);
}

REGISTER_LAYER("LSTMApproxDropout", LSTMApproxDropoutLayer);

}  // namespace caffe
