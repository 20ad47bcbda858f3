#include <cmath>

#include "caffe/core/cuda_context.hpp"
#include "caffe/layers/softmax_layer.hpp"

namespace caffe {
namespace {

// Two launch shapes: when the classes are contiguous (inner == 1, e.g. T x N x V with axis 2)
// one block handles a row, its threads striding along it (coalesced) and reducing in shared
// memory; otherwise one thread handles a column, neighbouring threads reading neighbouring
// columns (coalesced across the warp).
constexpr int kBlock = cuda::kThreadsPerBlock;  // a power of two, as block_reduce needs

struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};

// Reduces one value per thread of the block; every thread gets the result.
template <typename Op>
__device__ float block_reduce(float value, float* shared, Op op) {
  const int thread = threadIdx.x;
  shared[thread] = value;
  __syncthreads();
  for (int stride = kBlock / 2; stride > 0; stride /= 2) {
    if (thread < stride) shared[thread] = op(shared[thread], shared[thread + stride]);
    __syncthreads();
  }
  const float result = shared[0];
  __syncthreads();  // all threads have read the result before `shared` is reused
  return result;
}

__global__ void softmax_rows_forward(int rows, int classes, const float* in, float* out) {
  __shared__ float shared[kBlock];
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* x = in + static_cast<long long>(row) * classes;
    float* y = out + static_cast<long long>(row) * classes;
    float local = -INFINITY;
    for (int c = static_cast<int>(threadIdx.x); c < classes; c += kBlock) local = fmaxf(local, x[c]);
    const float row_max = block_reduce(local, shared, MaxOp());
    local = 0.0f;
    for (int c = static_cast<int>(threadIdx.x); c < classes; c += kBlock) {
      const float e = expf(x[c] - row_max);
      y[c] = e;
      local += e;
    }
    const float scale = 1.0f / block_reduce(local, shared, SumOp());
    // Each thread rescales exactly the elements it wrote: no barrier needed.
    for (int c = static_cast<int>(threadIdx.x); c < classes; c += kBlock) y[c] *= scale;
  }
}

__global__ void softmax_rows_backward(int rows, int classes, const float* y_all,
                                      const float* dy_all, float* dx_all) {
  __shared__ float shared[kBlock];
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long base = static_cast<long long>(row) * classes;
    const float* y = y_all + base;
    const float* dy = dy_all + base;
    float* dx = dx_all + base;
    float local = 0.0f;
    for (int c = static_cast<int>(threadIdx.x); c < classes; c += kBlock) local += dy[c] * y[c];
    const float dot = block_reduce(local, shared, SumOp());
    for (int c = static_cast<int>(threadIdx.x); c < classes; c += kBlock) dx[c] = y[c] * (dy[c] - dot);
  }
}

__global__ void softmax_columns_forward(AxisSplit split, const float* in, float* out) {
  const long long columns = static_cast<long long>(split.outer) * split.inner;
  CUDA_KERNEL_LOOP(column, columns) {
    const float* x = in + split.offset_at(column, 0);
    float* y = out + split.offset_at(column, 0);
    const long long stride = split.inner;
    float column_max = -INFINITY;
    for (int c = 0; c < split.axis_dim; ++c) column_max = fmaxf(column_max, x[c * stride]);
    float sum = 0.0f;
    for (int c = 0; c < split.axis_dim; ++c) {
      const float e = expf(x[c * stride] - column_max);
      y[c * stride] = e;
      sum += e;
    }
    const float scale = 1.0f / sum;
    for (int c = 0; c < split.axis_dim; ++c) y[c * stride] *= scale;
  }
}

__global__ void softmax_columns_backward(AxisSplit split, const float* y_all, const float* dy_all,
                                         float* dx_all) {
  const long long columns = static_cast<long long>(split.outer) * split.inner;
  CUDA_KERNEL_LOOP(column, columns) {
    const long long base = split.offset_at(column, 0);
    const float* y = y_all + base;
    const float* dy = dy_all + base;
    float* dx = dx_all + base;
    const long long stride = split.inner;
    float dot = 0.0f;
    for (int c = 0; c < split.axis_dim; ++c) dot += dy[c * stride] * y[c * stride];
    for (int c = 0; c < split.axis_dim; ++c) dx[c * stride] = y[c * stride] * (dy[c * stride] - dot);
  }
}

int row_blocks(int rows) { return rows < 65535 ? rows : 65535; }

}  // namespace

void softmax_forward_gpu(const AxisSplit& split, const float* in, float* out) {
  const long long columns = static_cast<long long>(split.outer) * split.inner;
  if (columns == 0 || split.axis_dim == 0) return;
  if (split.inner == 1) {
    softmax_rows_forward<<<row_blocks(split.outer), kBlock>>>(split.outer, split.axis_dim, in, out);
  } else {
    softmax_columns_forward<<<cuda::blocks_for(columns), kBlock>>>(split, in, out);
  }
  CUDA_KERNEL_CHECK();
}

void SoftmaxLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  softmax_forward_gpu(split_, bottom[0]->gpu_data(), top[0]->mutable_gpu_data());
}

void SoftmaxLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const long long columns = static_cast<long long>(split_.outer) * split_.inner;
  if (columns == 0 || split_.axis_dim == 0) return;
  const float* y = top[0]->gpu_data();
  const float* dy = top[0]->gpu_diff();
  float* dx = bottom[0]->mutable_gpu_diff();
  if (split_.inner == 1) {
    softmax_rows_backward<<<row_blocks(split_.outer), kBlock>>>(split_.outer, split_.axis_dim, y,
                                                                 dy, dx);
  } else {
    softmax_columns_backward<<<cuda::blocks_for(columns), kBlock>>>(split_, y, dy, dx);
  }
  CUDA_KERNEL_CHECK();
}

}  // namespace caffe
