#include "caffe/layers/inner_product_layer.hpp"

#include <climits>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
void InnerProductLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const InnerProductParameter& param = layer_param_.inner_product_param();
  if (param.num_output() == 0 || param.num_output() > INT_MAX) {
    fail("inner_product_param.num_output must be set to a positive number, got ",
         param.num_output());
  }
  if (top[0] == bottom[0]) fail("cannot run in place; give the top its own name");
  num_output_ = static_cast<int>(param.num_output());
  bias_term_ = param.bias_term();
  transpose_ = param.transpose();
  axis_ = bottom[0]->CanonicalAxisIndex(param.axis());
  inputs_ = bottom[0]->count(axis_);

  if (!blobs_.empty()) {
    CheckLoadedBlobs();
    return;
  }
  blobs_.push_back(std::make_shared<Blob>(ExpectedWeightShape()));
  fill_blob(param.weight_filler(), blobs_[0].get(), filler_stream(name(), 0));
  if (bias_term_) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{num_output_}));
    fill_blob(param.bias_filler(), blobs_[1].get(), filler_stream(name(), 1));
  }
}

std::vector<int> InnerProductLayer::ExpectedWeightShape() const {
  return transpose_ ? std::vector<int>{inputs_, num_output_}
                    : std::vector<int>{num_output_, inputs_};
}

void InnerProductLayer::CheckLoadedBlobs() const {
  const size_t expected = bias_term_ ? 2 : 1;
  if (blobs_.size() != expected) {
    fail("the model gives ", blobs_.size(), " parameter blob(s), but the layer has ", expected,
         bias_term_ ? " (weights and bias)" : " (weights only: bias_term is false)");
  }
  std::ostringstream why;
  why << "num_output " << num_output_ << " and " << inputs_ << " inputs per row"
      << (transpose_ ? " (transpose: true)" : "");
  check_loaded_param_shape(blobs_[0].get(), ExpectedWeightShape(), "weight blob", why.str());
  if (bias_term_) {
    check_loaded_param_shape(blobs_[1].get(), {num_output_}, "bias blob",
                             "num_output " + std::to_string(num_output_));
  }
}

void InnerProductLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& input = *bottom[0];
  const int axis = input.CanonicalAxisIndex(layer_param_.inner_product_param().axis());
  const int inputs = input.count(axis);
  if (inputs != inputs_) {
    fail("the input of shape ", input.shape_string(), " has ", inputs,
         " inputs per row (axes ", axis, " on), but the weights of shape ",
         blobs_[0]->shape_string(), " were set up for ", inputs_);
  }
  axis_ = axis;
  rows_ = input.count(0, axis_);
  std::vector<int> top_shape(input.shape().begin(), input.shape().begin() + axis_);
  top_shape.push_back(num_output_);
  top[0]->Reshape(top_shape);
  // Compared as shapes so that even an empty batch allocates the (empty) buffer.
  if (bias_term_ && bias_multiplier_.shape() != std::vector<int>{rows_}) {
    bias_multiplier_.Reshape({rows_});
    cpu_set(rows_, 1.0f, bias_multiplier_.mutable_cpu_data());
  }
}

void InnerProductLayer::ProjectInput(Mode mode, const Blob& input, float* y) {
  const float* x = input.data_on(mode);
  const float* weight = blobs_[0]->data_on(mode);
  live_inputs_ = live_input_columns(input, inputs_);
  if (live_inputs_.period > 1) {
    // Y = X W^T over the live columns only.
    product_.configure({MaskKind::OutputRows, num_output_, inputs_, 1, transpose_}, {1, 0},
                       live_inputs_);
    product_.forward(mode, rows_, x, weight, y);
  } else {
    // Y = X W^T  (W^T is stored directly when transpose_).
    blas(mode).gemm(Trans::No, transpose_ ? Trans::No : Trans::Yes, rows_, num_output_, inputs_,
                    1.0f, x, weight, 0.0f, y);
  }
}

void InnerProductLayer::BackpropInput(Mode mode, const float* dy, const Blob& input, float* dx,
                                      float* dweight) {
  const float* x = input.data_on(mode);
  const float* weight = blobs_[0]->data_on(mode);
  if (live_inputs_.period > 1) {
    // dX (zero in the skipped columns) and dW over the live columns, as planned by the forward.
    product_.backward(mode, rows_, dy, x, weight, dx, dweight);
    return;
  }
  const Blas& math = blas(mode);
  if (dweight && transpose_) {
    // dW^T [K, N] += X^T dY.
    math.gemm(Trans::Yes, Trans::No, inputs_, num_output_, rows_, 1.0f, x, dy, 1.0f, dweight);
  } else if (dweight) {
    // dW [N, K] += dY^T X.
    math.gemm(Trans::Yes, Trans::No, num_output_, inputs_, rows_, 1.0f, dy, x, 1.0f, dweight);
  }
  if (dx) {
    // dX = dY W.
    math.gemm(Trans::No, transpose_ ? Trans::Yes : Trans::No, rows_, inputs_, num_output_, 1.0f, dy,
              weight, 0.0f, dx);
  }
}

void InnerProductLayer::AddBias(Mode mode, const float* bias, float* y) {
  // Y += 1 b^T.
  blas(mode).gemm(Trans::No, Trans::No, rows_, num_output_, 1, 1.0f, bias_multiplier_.data_on(mode),
                  bias, 1.0f, y);
}

void InnerProductLayer::BackpropBias(Mode mode, const float* dy, float* dbias) {
  // db += dY^T 1.
  blas(mode).gemv(Trans::Yes, rows_, num_output_, 1.0f, dy, bias_multiplier_.data_on(mode), 1.0f,
                  dbias);
}

void InnerProductLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  float* y = top[0]->mutable_data_on(mode);
  ProjectInput(mode, *bottom[0], y);
  if (bias_term_) AddBias(mode, blobs_[1]->data_on(mode), y);
}

void InnerProductLayer::BackwardOn(Mode mode, const BlobVec& top,
                                   const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  const float* dy = top[0]->diff_on(mode);
  float* dweight = param_propagate_down(0) ? blobs_[0]->mutable_diff_on(mode) : nullptr;
  float* dx = propagate_down[0] ? bottom[0]->mutable_diff_on(mode) : nullptr;
  if (dx || dweight) BackpropInput(mode, dy, *bottom[0], dx, dweight);
  if (bias_term_ && param_propagate_down(1)) {
    BackpropBias(mode, dy, blobs_[1]->mutable_diff_on(mode));
  }
}

void InnerProductLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void InnerProductLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                     const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("InnerProduct", InnerProductLayer);

}  // namespace caffe
