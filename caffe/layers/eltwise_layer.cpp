#include "caffe/layers/eltwise_layer.hpp"

#include <glog/logging.h>

#include "caffe/core/layer_registry.hpp"
#include "caffe/layers/axis_broadcast.hpp"

namespace caffe {

void weighted_sum(Mode mode, int count, const std::vector<const float*>& inputs,
                  const std::vector<float>& factors, float* out) {
  CHECK_EQ(inputs.size(), factors.size());
  if (inputs.size() == 1) {
    for_each(mode, count, ScaledCopy{factors[0], inputs[0], out});
    return;
  }
  for_each(mode, count, ScaledSum{factors[0], inputs[0], factors[1], inputs[1], out});
  for (size_t k = 2; k < inputs.size(); ++k) {
    for_each(mode, count, ScaledSum{1.0f, out, factors[k], inputs[k], out});
  }
}

void EltwiseLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const EltwiseParameter& param = layer_param_.eltwise_param();
  operation_ = param.operation();
  stable_prod_grad_ = param.stable_prod_grad();
  const int bottoms = static_cast<int>(bottom.size());
  if (param.coeff_size() > 0 && operation_ != EltwiseParameter::SUM) {
    fail("eltwise_param.coeff applies to SUM only, but the operation is ",
         EltwiseParameter::EltwiseOp_Name(operation_));
  }
  if (param.coeff_size() > 0 && param.coeff_size() != bottoms) {
    fail("eltwise_param has ", param.coeff_size(), " coeff value(s) for ", bottoms,
         " bottoms; give one per bottom (or none for all 1)");
  }
  coeffs_.assign(bottoms, 1.0f);
  for (int k = 0; k < param.coeff_size(); ++k) coeffs_[k] = param.coeff(k);
  for (int k = 0; k < bottoms; ++k) {
    // Every operation reads each bottom after it has started writing the top.
    if (top[0] == bottom[k]) fail("cannot run in place (top = bottom ", k, ")");
  }
}

void EltwiseLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  for (size_t k = 1; k < bottom.size(); ++k) {
    if (bottom[k]->shape() != bottom[0]->shape()) {
      fail("bottom ", k, " has shape ", bottom[k]->shape_string(), " but bottom 0 has shape ",
           bottom[0]->shape_string(), "; all bottoms must have the same shape");
    }
  }
  top[0]->ReshapeLike(*bottom[0]);
  if (operation_ == EltwiseParameter::MAX) {
    const size_t bytes = sizeof(int) * static_cast<size_t>(top[0]->count());
    if (!winners_ || winners_->size() < bytes) winners_ = std::make_unique<SyncedMemory>(bytes);
  }
}

int* EltwiseLayer::Winners(Mode mode) {
  return static_cast<int*>(mode == Mode::GPU ? winners_->mutable_gpu_data()
                                             : winners_->mutable_cpu_data());
}

void EltwiseLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const int count = top[0]->count();
  if (count == 0) return;
  float* y = top[0]->mutable_data_on(mode);
  const int bottoms = static_cast<int>(bottom.size());
  switch (operation_) {
    case EltwiseParameter::SUM: {
      std::vector<const float*> inputs;
      for (const Blob* x : bottom) inputs.push_back(x->data_on(mode));
      weighted_sum(mode, count, inputs, coeffs_, y);
      break;
    }
    case EltwiseParameter::PROD:
      for_each(mode, count, ElementProduct{bottom[0]->data_on(mode), bottom[1]->data_on(mode), y});
      for (int k = 2; k < bottoms; ++k) {
        for_each(mode, count, ElementProduct{y, bottom[k]->data_on(mode), y});
      }
      break;
    case EltwiseParameter::MAX: {
      int* winners = Winners(mode);
      for_each(mode, count, ArgMaxStart{bottom[0]->data_on(mode), y, winners});
      for (int k = 1; k < bottoms; ++k) {
        for_each(mode, count, ArgMaxUpdate{k, bottom[k]->data_on(mode), y, winners});
      }
      break;
    }
  }
}

void EltwiseLayer::ProductGradient(Mode mode, int k, const BlobVec& top, const BlobVec& bottom) {
  const int count = top[0]->count();
  const float* dy = top[0]->diff_on(mode);
  float* dx = bottom[k]->mutable_diff_on(mode);
  if (!stable_prod_grad_) {
    for_each(mode, count,
             ProductQuotientGradient{dy, top[0]->data_on(mode), bottom[k]->data_on(mode), dx});
    return;
  }
  // dx = dy times every other bottom: exact even where x_k = 0, unlike y / x_k.
  const float* partial = dy;
  for (int j = 0; j < static_cast<int>(bottom.size()); ++j) {
    if (j == k) continue;
    for_each(mode, count, ElementProduct{partial, bottom[j]->data_on(mode), dx});
    partial = dx;
  }
}

void EltwiseLayer::BackwardOn(Mode mode, const BlobVec& top,
                              const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  const int count = top[0]->count();
  if (count == 0) return;
  const float* dy = top[0]->diff_on(mode);
  for (int k = 0; k < static_cast<int>(bottom.size()); ++k) {
    if (!propagate_down[k]) continue;
    float* dx = bottom[k]->mutable_diff_on(mode);
    switch (operation_) {
      case EltwiseParameter::SUM:
        for_each(mode, count, ScaledCopy{coeffs_[k], dy, dx});
        break;
      case EltwiseParameter::PROD:
        ProductGradient(mode, k, top, bottom);
        break;
      case EltwiseParameter::MAX:
        for_each(mode, count, ArgMaxGradient{k, Winners(mode), dy, dx});
        break;
    }
  }
}

void EltwiseLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void EltwiseLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("Eltwise", EltwiseLayer);

}  // namespace caffe
