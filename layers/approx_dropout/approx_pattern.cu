// Device versions of the approximate-dropout primitives (see approx_pattern.hpp): gathers and
// scatters of strided row/column selections as element-wise kernels; the products are cuBLAS.
#include "caffe/util/device_loop.cuh"
#include "layers/approx_dropout/approx_pattern.hpp"

namespace caffe {
namespace approx_dropout {
namespace {

void gpu_gather(const StridedBlocks& rows, const StridedBlocks& cols, const float* src, int ld,
                float* dst) {
  const StridedBlocks r = rows, c = cols;
  const int width = cols.count();
  launch_elementwise(static_cast<long long>(rows.count()) * width, [=] __device__(long long i) {
    const int position = static_cast<int>(i / width);
    dst[i] =
        src[static_cast<long long>(r.index(position)) * ld + c.index(static_cast<int>(i % width))];
  });
}

void gpu_scatter(const StridedBlocks& rows, const StridedBlocks& cols, float alpha,
                 const float* src, float beta, float* dst, int ld) {
  const StridedBlocks r = rows, c = cols;
  const int width = cols.count();
  launch_elementwise(static_cast<long long>(rows.count()) * width, [=] __device__(long long i) {
    const int position = static_cast<int>(i / width);
    float& to =
        dst[static_cast<long long>(r.index(position)) * ld + c.index(static_cast<int>(i % width))];
    to = beta == 0.0f ? alpha * src[i] : alpha * src[i] + beta * to;
  });
}

void gpu_add_to_columns(int rows, const StridedBlocks& cols, float alpha, const float* v, float* y,
                        int ld) {
  const StridedBlocks c = cols;
  const int width = cols.count();
  launch_elementwise(static_cast<long long>(rows) * width, [=] __device__(long long i) {
    const int column = c.index(static_cast<int>(i % width));
    y[i / width * ld + column] += alpha * v[column];
  });
}

// One thread per selected column, summing down the rows (adjacent threads read adjacent or
// evenly spaced columns of a row, so the loads coalesce).
void gpu_accumulate_column_sums(int rows, const StridedBlocks& cols, float alpha, const float* y,
                                int ld, float* sums) {
  const StridedBlocks c = cols;
  launch_elementwise(cols.count(), [=] __device__(long long i) {
    const int column = c.index(static_cast<int>(i));
    float sum = 0.0f;
    for (int r = 0; r < rows; ++r) sum += y[static_cast<long long>(r) * ld + column];
    sums[column] += alpha * sum;
  });
}

}  // namespace

const ApproxOps kGpuApproxOps = {gpu_gemm_ld,
                                 gpu_set,
                                 gpu_gather,
                                 gpu_scatter,
                                 gpu_add_to_columns,
                                 gpu_accumulate_column_sums,
                                 &Blob::gpu_data,
                                 &Blob::gpu_diff,
                                 &Blob::mutable_gpu_data,
                                 &Blob::mutable_gpu_diff};

}  // namespace approx_dropout
}  // namespace caffe
