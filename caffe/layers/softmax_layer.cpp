#include "caffe/layers/softmax_layer.hpp"

#include <algorithm>
#include <cmath>

#include "caffe/core/layer_registry.hpp"

namespace caffe {

namespace {

// One contiguous row (inner == 1): the common case of classifier and language-model scores,
// kept free of the column bookkeeping so that it runs at the speed of exp.
void softmax_row(const float* x, float* y, int classes) {
  float row_max = x[0];
  for (int c = 1; c < classes; ++c) row_max = std::max(row_max, x[c]);
  float sum = 0.0f;
  for (int c = 0; c < classes; ++c) {
    const float e = std::exp(x[c] - row_max);
    y[c] = e;
    sum += e;
  }
  const float scale = 1.0f / sum;
  for (int c = 0; c < classes; ++c) y[c] *= scale;
}

// The positions of one outer index as `inner` interleaved columns: element c of column i is at
// c * inner + i.  Looping over c outside and i inside keeps memory access sequential.
void softmax_columns(const float* x, float* y, int classes, int inner, float* column) {
  std::copy(x, x + inner, column);  // per column: the max, then 1 / the sum of exponentials
  for (int c = 1; c < classes; ++c) {
    for (int i = 0; i < inner; ++i) column[i] = std::max(column[i], x[c * inner + i]);
  }
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < inner; ++i) y[c * inner + i] = std::exp(x[c * inner + i] - column[i]);
  }
  std::fill(column, column + inner, 0.0f);
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < inner; ++i) column[i] += y[c * inner + i];
  }
  for (int i = 0; i < inner; ++i) column[i] = 1.0f / column[i];
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < inner; ++i) y[c * inner + i] *= column[i];
  }
}

}  // namespace

void softmax_forward_cpu(const AxisSplit& split, const float* in, float* out) {
  if (split.axis_dim == 0) return;
  std::vector<float> column(split.inner > 1 ? split.inner : 0);
  for (int o = 0; o < split.outer; ++o) {
    const float* x = in + split.offset(o, 0, 0);
    float* y = out + split.offset(o, 0, 0);
    if (split.inner == 1) {
      softmax_row(x, y, split.axis_dim);
    } else {
      softmax_columns(x, y, split.axis_dim, split.inner, column.data());
    }
  }
}

void SoftmaxLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  split_ = split_at_axis(*bottom[0], layer_param_.softmax_param().axis());
  top[0]->ReshapeLike(*bottom[0]);
}

void SoftmaxLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  softmax_forward_cpu(split_, bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
}

void SoftmaxLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const int classes = split_.axis_dim;
  const int inner = split_.inner;
  const float* y_all = top[0]->cpu_data();
  const float* dy_all = top[0]->cpu_diff();
  float* dx_all = bottom[0]->mutable_cpu_diff();
  std::vector<float> dot(inner);  // per column: sum_k dy_k y_k
  for (int o = 0; o < split_.outer; ++o) {
    const float* y = y_all + split_.offset(o, 0, 0);
    const float* dy = dy_all + split_.offset(o, 0, 0);
    float* dx = dx_all + split_.offset(o, 0, 0);
    std::fill(dot.begin(), dot.end(), 0.0f);
    for (int c = 0; c < classes; ++c) {
      for (int i = 0; i < inner; ++i) dot[i] += dy[c * inner + i] * y[c * inner + i];
    }
    // dx may alias dy (in-place): each element is read before it is written.
    for (int c = 0; c < classes; ++c) {
      for (int i = 0; i < inner; ++i) {
        dx[c * inner + i] = y[c * inner + i] * (dy[c * inner + i] - dot[i]);
      }
    }
  }
}

REGISTER_LAYER("Softmax", SoftmaxLayer);

}  // namespace caffe
