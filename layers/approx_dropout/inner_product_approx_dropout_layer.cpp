#include "layers/approx_dropout/inner_product_approx_dropout_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void InnerProductApproxDropoutLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const ApproxDropoutParameter& dropout = layer_param_.approx_dropout_param();
  if (layer_param_.inner_product_param().transpose()) {
    fail(
        "inner_product_param.transpose is not supported: the weights are stored as "
        "[num_output, K]");
  }
  InnerProductLayer::LayerSetUp(bottom, top);
  if (inputs() == 0) {
    fail("the input of shape ", bottom[0]->shape_string(), " has no inputs per row");
  }
  shape_.kind = approx_dropout::mask_kind(dropout);
  shape_.outputs = outputs();
  shape_.inputs = inputs();
  if (shape_.kind == MaskKind::Tiles) shape_.tile_size = approx_dropout::checked_tile_size(dropout);
  shape_.rotate_offset = approx_dropout::checked_rotate_offset(dropout, shape_.kind);
  patterns_.Load(dropout, phase_, shape_.width());
  shape_.tile_order = patterns_.tile_order();
}

StridedBlocks InnerProductApproxDropoutLayer::biased_outputs() const {
  if (shape_.kind == MaskKind::OutputRows) return kept_units(shape_.outputs, forward_pattern_);
  return StridedBlocks::all(shape_.outputs);
}

float InnerProductApproxDropoutLayer::bias_scale() const {
  return shape_.kind == MaskKind::OutputRows ? forward_scale_ : 1.0f;
}

// A ROW OUTPUT pattern's kept rows of W are used in place (leading dimension dp·K).  Skipping
// columns as well means packing those rows' live columns and scattering their gradient back, which
// at small batches costs more memory traffic than the smaller GEMMs save: for 2048 x 2048, dp = 2
// behind a dp = 2 pattern (OpenBLAS, one thread), forward + backward took 1.1-1.4x the time of the
// rows alone at batch 1-16, about the same at 32, 0.84x at 64 and 0.65-0.7x at 128-256.  Live
// columns that form one run (row_layout: BLOCKS) are used in place and always skipped.
constexpr int kMinBatchToSkipColumns = 32;

DropPattern InnerProductApproxDropoutLayer::live_inputs(DropPattern pattern,
                                                        const Blob& input) const {
  // A rotated pattern keeps different columns in each row: it computes every column it keeps.
  if (shape_.rotate_offset) return {1, 0};
  const DropPattern live = live_input_columns(input, shape_.inputs);
  const bool rows_in_place = shape_.kind == MaskKind::OutputRows && pattern.period > 1;
  if (rows_in_place && rows() < kMinBatchToSkipColumns && !live.blocks) return {1, 0};
  return live;
}

void InnerProductApproxDropoutLayer::ProjectInput(Mode mode, const Blob& input, float* y) {
  forward_pattern_ = current_pattern();
  forward_scale_ = patterns_.scale(phase_, forward_pattern_);
  forward_live_inputs_ = live_inputs(forward_pattern_, input);
  product().configure(shape_, forward_pattern_, forward_live_inputs_, forward_scale_);
  product().forward(mode, rows(), input.data_on(mode), blobs_[0]->data_on(mode), y);
}

void InnerProductApproxDropoutLayer::BackpropInput(Mode mode, const float* dy, const Blob& input,
                                                   float* dx, float* dweight) {
  product().configure(shape_, forward_pattern_, forward_live_inputs_, forward_scale_);
  product().backward(mode, rows(), dy, input.data_on(mode), blobs_[0]->data_on(mode), dx, dweight);
}

void InnerProductApproxDropoutLayer::AddBias(Mode mode, const float* bias, float* y) {
  add_to_columns(mode, rows(), biased_outputs(), bias_scale(), bias, y, shape_.outputs);
}

void InnerProductApproxDropoutLayer::BackpropBias(Mode mode, const float* dy, float* dbias) {
  accumulate_column_sums(mode, rows(), biased_outputs(), bias_scale(), dy, shape_.outputs, dbias);
}

void InnerProductApproxDropoutLayer::PropagateColumnPattern(const BlobVec& /*bottom*/,
                                                            const BlobVec& top) {
  // Dropped outputs are exactly zero (MaskedProduct writes them, the bias skips them).
  const bool rows_dropped = shape_.kind == MaskKind::OutputRows && forward_pattern_.period > 1;
  top[0]->set_column_pattern(rows_dropped
                                 ? ColumnPattern{forward_pattern_.period, forward_pattern_.offset,
                                                 shape_.outputs, forward_pattern_.blocks}
                                 : ColumnPattern{});
}

REGISTER_LAYER("InnerProductApproxDropout", InnerProductApproxDropoutLayer);

}  // namespace caffe
