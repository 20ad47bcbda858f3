#include "layers/approx_dropout/inner_product_approx_dropout_layer.hpp"

#include <climits>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"

namespace caffe {

using approx_dropout::DropPattern;
using approx_dropout::StridedBlocks;

void InnerProductApproxDropoutLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const InnerProductParameter& param = layer_param_.inner_product_param();
  const ApproxDropoutParameter& dropout = layer_param_.approx_dropout_param();
  if (param.num_output() == 0 || param.num_output() > INT_MAX) {
    fail("inner_product_param.num_output must be set to a positive number, got ",
         param.num_output());
  }
  if (param.transpose()) {
    fail(
        "inner_product_param.transpose is not supported: the weights are stored as "
        "[num_output, K]");
  }
  if (top[0] == bottom[0]) fail("cannot run in place; give the top its own name");
  axis_ = bottom[0]->CanonicalAxisIndex(param.axis());
  shape_.kind = approx_dropout::mask_kind(dropout);
  shape_.outputs = static_cast<int>(param.num_output());
  shape_.inputs = bottom[0]->count(axis_);
  if (shape_.inputs == 0)
    fail("the input of shape ", bottom[0]->shape_string(), " has no inputs per row");
  if (shape_.kind == approx_dropout::MaskKind::Tiles) {
    shape_.tile_size = approx_dropout::checked_tile_size(dropout);
  }
  bias_term_ = param.bias_term();

  if (!blobs_.empty()) {
    CheckLoadedBlobs();
  } else {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{shape_.outputs, shape_.inputs}));
    fill_blob(param.weight_filler(), blobs_[0].get(), filler_stream(name(), 0));
    if (bias_term_) {
      blobs_.push_back(std::make_shared<Blob>(std::vector<int>{shape_.outputs}));
      fill_blob(param.bias_filler(), blobs_[1].get(), filler_stream(name(), 1));
    }
  }
  patterns_.Load(dropout, phase_, shape_.width());
}

void InnerProductApproxDropoutLayer::CheckLoadedBlobs() {
  const size_t expected = bias_term_ ? 2 : 1;
  if (blobs_.size() != expected) {
    fail("the model gives ", blobs_.size(), " parameter blob(s), but the layer has ", expected,
         bias_term_ ? " (weights and bias)" : " (weights only: bias_term is false)");
  }
  const auto check = [](Blob& blob, const std::vector<int>& expected_shape, const char* what) {
    if (blob.shape() == expected_shape) return;
    // Legacy models store [M, K] as [1, 1, M, K]: the same values, so only the shape changes.
    std::vector<int> squeezed = blob.shape();
    while (squeezed.size() > expected_shape.size() && squeezed.front() == 1) {
      squeezed.erase(squeezed.begin());
    }
    if (squeezed != expected_shape) {
      fail("the ", what, " blob from the model has shape ", blob.shape_string(), ", expected ",
           shape_string(expected_shape));
    }
    blob.Reshape(expected_shape);
  };
  check(*blobs_[0], {shape_.outputs, shape_.inputs}, "weight");
  if (bias_term_) check(*blobs_[1], {shape_.outputs}, "bias");
}

void InnerProductApproxDropoutLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& input = *bottom[0];
  const int axis = input.CanonicalAxisIndex(layer_param_.inner_product_param().axis());
  if (input.count(axis) != shape_.inputs) {
    fail("the input of shape ", input.shape_string(), " has ", input.count(axis),
         " inputs per row (axes ", axis, " on), but the weights were set up for ", shape_.inputs);
  }
  axis_ = axis;
  batch_ = input.count(0, axis_);
  std::vector<int> top_shape(input.shape().begin(), input.shape().begin() + axis_);
  top_shape.push_back(shape_.outputs);
  top[0]->Reshape(top_shape);
}

StridedBlocks InnerProductApproxDropoutLayer::biased_outputs(DropPattern pattern) const {
  if (shape_.kind == approx_dropout::MaskKind::OutputRows) {
    return StridedBlocks(shape_.outputs, 1, pattern.offset, pattern.period);
  }
  return StridedBlocks::all(shape_.outputs);
}

float InnerProductApproxDropoutLayer::bias_scale(DropPattern pattern) const {
  return shape_.kind == approx_dropout::MaskKind::OutputRows ? static_cast<float>(pattern.period)
                                                             : 1.0f;
}

// A ROW OUTPUT pattern's kept rows of W are used in place (leading dimension dp·K).  Skipping
// columns as well means packing those rows' live columns and scattering their gradient back, which
// at small batches costs more memory traffic than the smaller GEMMs save: for 2048 x 2048, dp = 2
// behind a dp = 2 pattern (OpenBLAS, one thread), forward + backward took 1.1-1.4x the time of the
// rows alone at batch 1-16, about the same at 32, 0.84x at 64 and 0.65-0.7x at 128-256.
constexpr int kMinBatchToSkipColumns = 32;

DropPattern InnerProductApproxDropoutLayer::live_inputs(DropPattern pattern,
                                                        const Blob& input) const {
  const bool rows_in_place =
      shape_.kind == approx_dropout::MaskKind::OutputRows && pattern.period > 1;
  if (rows_in_place && batch_ < kMinBatchToSkipColumns) return {1, 0};
  return approx_dropout::live_input_columns(input, shape_.inputs);
}

void InnerProductApproxDropoutLayer::ForwardOn(const approx_dropout::ApproxOps& ops,
                                               const BlobVec& bottom, const BlobVec& top) {
  forward_pattern_ = current_pattern();
  live_inputs_ = live_inputs(forward_pattern_, *bottom[0]);
  product_.configure(shape_, forward_pattern_, live_inputs_);
  float* y = (top[0]->*ops.mutable_data)();
  product_.forward(ops, batch_, (bottom[0]->*ops.data)(), (blobs_[0].get()->*ops.data)(), y);
  if (bias_term_) {
    ops.add_to_columns(batch_, biased_outputs(forward_pattern_), bias_scale(forward_pattern_),
                       (blobs_[1].get()->*ops.data)(), y, shape_.outputs);
  }
}

void InnerProductApproxDropoutLayer::BackwardOn(const approx_dropout::ApproxOps& ops,
                                                const BlobVec& top,
                                                const std::vector<bool>& propagate_down,
                                                const BlobVec& bottom) {
  const float* dy = (top[0]->*ops.diff)();
  float* dx = propagate_down[0] ? (bottom[0]->*ops.mutable_diff)() : nullptr;
  float* dweight = param_propagate_down(0) ? (blobs_[0].get()->*ops.mutable_diff)() : nullptr;
  if (dx || dweight) {
    product_.configure(shape_, forward_pattern_, live_inputs_);
    product_.backward(ops, batch_, dy, (bottom[0]->*ops.data)(), (blobs_[0].get()->*ops.data)(), dx,
                      dweight);
  }
  if (bias_term_ && param_propagate_down(1)) {
    ops.accumulate_column_sums(batch_, biased_outputs(forward_pattern_),
                               bias_scale(forward_pattern_), dy, shape_.outputs,
                               (blobs_[1].get()->*ops.mutable_diff)());
  }
}

void InnerProductApproxDropoutLayer::PropagateColumnPattern(const BlobVec& /*bottom*/,
                                                            const BlobVec& top) {
  // Dropped outputs are exactly zero (MaskedProduct writes them, the bias skips them).
  const bool rows_dropped =
      shape_.kind == approx_dropout::MaskKind::OutputRows && forward_pattern_.period > 1;
  top[0]->set_column_pattern(rows_dropped ? ColumnPattern{forward_pattern_.period,
                                                          forward_pattern_.offset, shape_.outputs}
                                          : ColumnPattern{});
}

void InnerProductApproxDropoutLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(approx_dropout::kCpuApproxOps, bottom, top);
}

void InnerProductApproxDropoutLayer::Backward_cpu(const BlobVec& top,
                                                  const std::vector<bool>& propagate_down,
                                                  const BlobVec& bottom) {
  BackwardOn(approx_dropout::kCpuApproxOps, top, propagate_down, bottom);
}

REGISTER_LAYER("InnerProductApproxDropout", InnerProductApproxDropoutLayer);

}  // namespace caffe
