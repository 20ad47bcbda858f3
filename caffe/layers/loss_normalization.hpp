// How a loss layer turns its sum over positions into the reported loss (loss_param): the mode it
// divides by and the divisor itself.  Shared by SoftmaxWithLoss and SigmoidCrossEntropyLoss.
#pragma once

#include <algorithm>

#include "proto/caffe.pb.h"

namespace caffe {

// The mode a LossParameter asks for: `normalization` when set, else the legacy `normalize`
// (true: VALID, false: BATCH_SIZE), else the layer's own default (SoftmaxWithLoss: VALID,
// SigmoidCrossEntropyLoss: BATCH_SIZE).
inline LossParameter::NormalizationMode normalization_mode(
    const LossParameter& param, LossParameter::NormalizationMode layer_default) {
  if (param.has_normalization()) return param.normalization();
  if (param.has_normalize()) {
    return param.normalize() ? LossParameter::VALID : LossParameter::BATCH_SIZE;
  }
  return layer_default;
}

// The divisor Z of a loss over `positions` values of which `valid` are not ignored, `batch` the
// outer (example) count.  Z is at least 1, so an empty or fully ignored batch has loss 0.
inline float loss_normalizer(LossParameter::NormalizationMode mode, int batch, int positions,
                             int valid) {
  int z = 1;
  switch (mode) {
    case LossParameter::FULL:
      z = positions;
      break;
    case LossParameter::VALID:
      z = valid;
      break;
    case LossParameter::BATCH_SIZE:
      z = batch;
      break;
    case LossParameter::NONE:
      z = 1;
      break;
  }
  return static_cast<float>(std::max(z, 1));
}

}  // namespace caffe
