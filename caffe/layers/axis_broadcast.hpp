// Helpers for layers that combine a blob x with an operand spanning some of x's axes (Scale, Bias,
// BatchNorm).  x is seen as [outer, dim, inner] around the axes the operand spans (an AxisSplit
// whose axis_dim is the operand's count); operand value c applies to every element whose middle
// index is c.  Gradients of such an operand are sums over outer and inner
// (caffe/layers/channel_sums.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"
#include "caffe/util/device.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

// The shape of the operand a one-bottom Scale or Bias layer learns: x's axes
// [axis, axis + num_axes), where num_axes -1 means "through the last axis" and 0 gives a scalar.
std::vector<int> learned_operand_shape(const Blob& x, int axis, int num_axes);

// The view of x that an operand of shape `operand` spans from `axis` on (a scalar operand spans
// no axis, whatever `axis` says).  Errors naming both shapes when the operand's dimensions are
// not x's from `axis` on.
AxisSplit broadcast_split(const Blob& x, int axis, const std::vector<int>& operand,
                          const std::string& operand_name);

// Broadcast passes walk x as a grid of outer·dim planes of `inner` values,
// for_each(mode, plane_count(split), split.inner, fn): element (plane, k) is x[plane·inner + k]
// and its operand index is plane % dim, so no element pays for a division.
inline int plane_count(const AxisSplit& split) { return split.outer * split.axis_dim; }

CAFFE_HOST_DEVICE inline long long grid_element(const AxisSplit& split, int plane, int k) {
  return static_cast<long long>(plane) * split.inner + k;
}

// y = x · scale[c] + bias[c] (c = plane % dim); a null scale counts as 1, a null bias as 0.
// y may alias x; x_copy, when not null, receives x in the same pass.
struct BroadcastAffine {
  AxisSplit split;
  const float* x;
  const float* scale;
  const float* bias;
  float* y;
  float* x_copy = nullptr;
  CAFFE_HOST_DEVICE void operator()(int plane, int k) const {
    const long long i = grid_element(split, plane, k);
    const int c = plane % split.axis_dim;
    const float value = x[i];
    if (x_copy) x_copy[i] = value;
    const float scaled = scale ? value * scale[c] : value;
    y[i] = bias ? scaled + bias[c] : scaled;
  }
};

// out = a ⊙ b.  out may alias a or b.
struct ElementProduct {
  const float* a;
  const float* b;
  float* out;
  CAFFE_HOST_DEVICE void operator()(long long i) const { out[i] = a[i] * b[i]; }
};

// Scale and Bias take their operand from bottom 1 when they have two bottoms (and refuse a top
// written over it), else learn it; returns whether it is bottom 1.
bool operand_is_bottom(const BlobVec& bottom, const BlobVec& top, const char* operand_name);

// Where an operand's gradient goes in backward and whether it adds to what is there: a bottom's
// diff is written afresh (beta 0), a learned blob's diff accumulates (beta 1).  Null: not wanted.
struct OperandGradient {
  float* diff = nullptr;
  float beta = 0.0f;
};
OperandGradient operand_gradient(Mode mode, bool is_bottom, bool wanted, Blob* operand);

// A parameter blob a broadcasting layer learns: its shape, its filler and the name errors use.
struct OperandSpec {
  std::vector<int> shape;
  FillerParameter filler;
  const char* name;
};

// `given` when the prototxt sets it, else a constant filler of `value`.
FillerParameter filler_or_constant(bool has_given, const FillerParameter& given, float value);

// Creates and fills a layer's learned operands in the order of `specs`, or, when `blobs` were
// loaded from a model, checks their number and shapes (errors naming both shapes).
void init_operand_blobs(const std::string& layer_name, const std::vector<OperandSpec>& specs,
                        std::vector<std::shared_ptr<Blob>>* blobs);

}  // namespace caffe
