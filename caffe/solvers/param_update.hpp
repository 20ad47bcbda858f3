// Building blocks of the update rules.  Each rule (SGD, Nesterov, AdaGrad, RMSProp, Adam) is a
// small functor whose operator()(i) performs the whole update of element i in one pass:
// normalize and clip the accumulated gradient, add the regularization term, update the history,
// write the step into the diff (as Caffe leaves it) and subtract it from the weight.  The same
// functor runs through for_each (caffe/util/device.hpp) in a host loop on all CPU threads or, in
// CUDA builds, as a single device kernel (each rule's .cu instantiates it), so CPU and GPU apply
// the same formula.
#pragma once

#include <algorithm>
#include <cmath>

#include "caffe/core/common.hpp"
#include "caffe/util/device.hpp"
#include "caffe/util/parallel.hpp"

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

// Runs a rule functor (with its UpdateBuffers as `buffers`) over the `count` elements of a
// parameter blob: one kernel on the GPU; on the CPU, for_each's loop plus a software prefetch of
// the weight, diff and history kUpdatePrefetchDistance elements ahead.  The update streams three
// or four arrays that do not fit in the caches, and the prefetch hides the latency that the
// hardware prefetchers leave (clear + SGD update of 5.8 M weights on one core: 1.76 → 1.36 ms in
// isolation, docs/benchmarks.md, "ROW at the limit").  The arithmetic is unchanged.
constexpr long long kUpdatePrefetchDistance = 2048;  // 8 KB ahead; 1-4 K floats measured alike
constexpr long long kUpdateLine = 16;                // floats per 64-byte cache line

template <typename Update>
void run_update(Mode mode, long long count, const Update& update) {
  if (mode == Mode::GPU) {
    for_each(mode, count, update, kUpdateMinChunk);
    return;
  }
  parallel_for(count, kUpdateMinChunk, [&update, count](long long begin, long long end) {
    const Update body = update;  // a local copy vectorises (see for_each)
    const UpdateBuffers& buffers = body.buffers;
    for (long long line = begin; line < end; line += kUpdateLine) {
      if (const long long ahead = line + kUpdatePrefetchDistance; ahead < count) {
        __builtin_prefetch(buffers.weight + ahead, 1);
        __builtin_prefetch(buffers.diff + ahead, 1);
        __builtin_prefetch(buffers.history + ahead, 1);
        if (buffers.history2) __builtin_prefetch(buffers.history2 + ahead, 1);
      }
      const long long stop = std::min(line + kUpdateLine, end);
      for (long long i = line; i < stop; ++i) body(i);
    }
  });
}

}  // namespace caffe
