#include "caffe/layers/softmax_layer.hpp"

#include <algorithm>
#include <cmath>

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/parallel.hpp"
#include "caffe/util/vector_clones.hpp"
#include "caffe/util/vector_math.hpp"

namespace caffe {

namespace {

// Partial maxima and sums are kept in kLanes separate lanes, so that the row loops vectorise: GCC
// does not reorder a float reduction by itself.
constexpr int kLanes = 16;

CAFFE_ALWAYS_INLINE float row_max(const float* x, int classes) {
  float lane[kLanes];
  std::fill(lane, lane + kLanes, x[0]);
  int c = 0;
  for (; c + kLanes <= classes; c += kLanes) {
    for (int j = 0; j < kLanes; ++j) lane[j] = x[c + j] > lane[j] ? x[c + j] : lane[j];
  }
  float result = *std::max_element(lane, lane + kLanes);
  for (; c < classes; ++c) result = std::max(result, x[c]);
  return result;
}

// y = exp(x - shift); returns the sum of y.
CAFFE_ALWAYS_INLINE float exp_row(const float* x, float* y, int classes, float shift) {
  float lane[kLanes] = {};
  int c = 0;
  for (; c + kLanes <= classes; c += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float e = vector_exp(x[c + j] - shift);
      y[c + j] = e;
      lane[j] += e;
    }
  }
  float sum = 0.0f;
  for (; c < classes; ++c) {
    y[c] = vector_exp(x[c] - shift);
    sum += y[c];
  }
  for (int j = 0; j < kLanes; ++j) sum += lane[j];
  return sum;
}

// Rows [begin, end) of contiguous rows (inner == 1): the common case of classifier and
// language-model scores, kept free of the column bookkeeping and compiled for AVX2 and AVX-512
// too, so that a 10,000-word row costs about a microsecond.
CAFFE_VECTOR_CLONES void softmax_rows(const float* in, float* out, int classes, long long begin,
                                      long long end) {
  for (long long row = begin; row < end; ++row) {
    const float* x = in + row * classes;
    float* y = out + row * classes;
    const float scale = 1.0f / exp_row(x, y, classes, row_max(x, classes));
    for (int c = 0; c < classes; ++c) y[c] *= scale;
  }
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
  if (split.inner == 1) {
    // Rows on the parallel_for threads, a few thousand values per thread at least.
    const int classes = split.axis_dim;
    parallel_for(
        split.outer, std::max(1, (1 << 15) / classes),
        [&](long long begin, long long end) { softmax_rows(in, out, classes, begin, end); });
    return;
  }
  std::vector<float> column(split.inner);
  for (int o = 0; o < split.outer; ++o) {
    softmax_columns(in + split.offset(o, 0, 0), out + split.offset(o, 0, 0), split.axis_dim,
                    split.inner, column.data());
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
