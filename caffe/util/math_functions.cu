#include <cmath>

#include "caffe/core/cuda_context.hpp"
#include "caffe/util/device.cuh"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

struct Fill {
  float value;
  float* x;
  __device__ void operator()(long long i) const { x[i] = value; }
};

cublasOperation_t to_cublas(Trans trans) { return trans == Trans::Yes ? CUBLAS_OP_T : CUBLAS_OP_N; }

void gpu_gemm_ld(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  // cuBLAS is column-major: a row-major C is a column-major C^T = op(B)^T op(A)^T.
  CUBLAS_CALL(cublasSgemm(cuda::cublas_handle(), to_cublas(trans_b), to_cublas(trans_a), N, M, K,
                          &alpha, B, ldb, A, lda, &beta, C, ldc));
}

void gpu_gemv(Trans trans_a, int M, int N, float alpha, const float* A, const float* x, float beta,
              float* y) {
  // Row-major M x N is column-major N x M: flip the transpose.
  const cublasOperation_t op = trans_a == Trans::No ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CALL(cublasSgemv(cuda::cublas_handle(), op, N, M, &alpha, A, N, x, 1, &beta, y, 1));
}

void gpu_axpy(int n, float alpha, const float* x, float* y) {
  CUBLAS_CALL(cublasSaxpy(cuda::cublas_handle(), n, &alpha, x, 1, y, 1));
}

void gpu_copy(int n, const float* x, float* y) {
  if (x != y && n > 0) CUDA_CALL(cudaMemcpy(y, x, sizeof(float) * n, cudaMemcpyDeviceToDevice));
}

void gpu_set(int n, float value, float* x) {
  if (n <= 0) return;
  if (value == 0.0f) {
    CUDA_CALL(cudaMemset(x, 0, sizeof(float) * n));
  } else {
    for_each_gpu(n, Fill{value, x});
  }
}

void gpu_scal(int n, float alpha, float* x) {
  if (alpha == 0.0f) {
    gpu_set(n, 0.0f, x);
  } else if (alpha != 1.0f) {
    CUBLAS_CALL(cublasSscal(cuda::cublas_handle(), n, &alpha, x, 1));
  }
}

float gpu_dot(int n, const float* x, const float* y) {
  float result = 0;
  CUBLAS_CALL(cublasSdot(cuda::cublas_handle(), n, x, 1, y, 1, &result));
  return result;
}

float gpu_asum(int n, const float* x) {
  float result = 0;
  CUBLAS_CALL(cublasSasum(cuda::cublas_handle(), n, x, 1, &result));
  return result;
}

void gpu_copy_rows(int rows, int row_length, const float* src, int src_stride, float* dst,
                   int dst_stride) {
  if (rows == 0 || row_length == 0) return;
  CUDA_CALL(cudaMemcpy2D(dst, sizeof(float) * dst_stride, src, sizeof(float) * src_stride,
                         sizeof(float) * row_length, rows, cudaMemcpyDeviceToDevice));
}

}  // namespace

const Blas& gpu_blas() {
  static const Blas table{gpu_gemm_ld, gpu_gemv, gpu_axpy, gpu_scal,     gpu_copy,
                          gpu_set,     gpu_dot,  gpu_asum, gpu_copy_rows};
  return table;
}

}  // namespace caffe
