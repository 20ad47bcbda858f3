#include "layers/approx_dropout/lstm_approx_dropout_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

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
  const int tile_size = tiles ? approx_dropout::checked_tile_size(dropout) : 1;
  LSTMLayer::LayerSetUp(bottom, top);
  shape_.kind = tiles ? MaskKind::Tiles : MaskKind::InputColumns;
  shape_.outputs = gate_width();
  shape_.inputs = input_size();
  shape_.tile_size = tile_size;
  shape_.rotate_offset = approx_dropout::checked_rotate_offset(dropout, shape_.kind);
  patterns_.Load(dropout, phase_, shape_.width());
  shape_.tile_order = patterns_.tile_order();
}

bool LSTMApproxDropoutLayer::BeginMaskedForward() {
  forward_pattern_ = current_pattern();
  forward_scale_ = patterns_.scale(phase_, forward_pattern_);
  if (!forward_masks()) return false;
  product_.configure(shape_, forward_pattern_, {}, forward_scale_);
  return true;
}

void LSTMApproxDropoutLayer::ProjectInput(Mode mode, int rows, const float* x, const float* weight,
                                          float* gates) {
  if (!BeginMaskedForward()) {
    LSTMLayer::ProjectInput(mode, rows, x, weight, gates);
    return;
  }
  product_.forward(mode, rows, x, weight, gates);
}

void LSTMApproxDropoutLayer::BackpropInput(Mode mode, int rows, const float* gates_diff,
                                           const float* x, const float* weight, float* x_diff,
                                           float* weight_diff) {
  if (!forward_masks()) {
    LSTMLayer::BackpropInput(mode, rows, gates_diff, x, weight, x_diff, weight_diff);
    return;
  }
  product_.backward(mode, rows, gates_diff, x, weight, x_diff, weight_diff);
}

REGISTER_LAYER("LSTMApproxDropout", LSTMApproxDropoutLayer);

}  // namespace caffe
