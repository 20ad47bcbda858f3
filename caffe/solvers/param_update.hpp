// Building blocks of the update rules.  Each rule (SGD, Nesterov, AdaGrad, RMSProp, Adam) is a
// small functor whose operator()(i) performs the whole update of element i in one pass:
// normalize and clip the accumulated gradient, add the regularization term, update the history,
// write the step into the diff (as Caffe leaves it) and subtract it from the weight.  The same
// functor runs through for_each (caffe/util/device.hpp) in a host loop on all CPU threads or, in
// CUDA builds, as a single device kernel (each rule's .cu instantiates it), so CPU and GPU apply
// the same formula.
#pragma once

#include <cmath>

#include "caffe/core/common.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// An update splits over the CPU threads from 2^16 elements on: it streams three or four arrays
// per element, so it pays from smaller blobs than a single-array pass (kElementwiseMinChunk).
constexpr long long kUpdateMinChunk = 1 << 15;

// Turns the raw gradient, accumulated over iter_size passes, into the regularized gradient:
//   g = scale · raw + decay · (L2: w, L1: sign(w)),  scale = clip factor / iter_size.
struct RegularizedGradient {
  float scale;
  float decay;  // weight_decay × decay_mult
  bool l1;

  CAFFE_HOST_DEVICE float operator()(float raw, float weight) const {
    const float penalty = l1 ? static_cast<float>((weight > 0.0f) - (weight < 0.0f)) : weight;
    return scale * raw + decay * penalty;
  }
};

// What the solver hands an update rule for one parameter blob in one iteration.
struct ParamStep {
  int param_id;
  RegularizedGradient gradient;
  float rate;  // learning rate × lr_mult
};

// Where one element's update reads and writes: weight, gradient (replaced by the step taken)
// and the rule's history buffers.
struct UpdateBuffers {
  float* weight;
  float* diff;
  float* history;
  float* history2;  // the second history set (Adam: V, AdaDelta: U); null for the other rules
};

}  // namespace caffe
