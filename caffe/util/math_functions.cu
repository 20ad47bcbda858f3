#include <cmath>

#include "caffe/core/cuda_context.hpp"
#include "caffe/util/device_loop.cuh"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

cublasOperation_t to_cublas(Trans trans) { return trans == Trans::Yes ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void gpu_gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C) {
  const int lda = trans_a == Trans::No ? K : M;
  const int ldb = trans_b == Trans::No ? N : K;
  gpu_gemm_ld(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
}

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

void gpu_axpby(int n, float alpha, const float* x, float beta, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = alpha * x[i] + beta * y[i]; });
}

void gpu_scal(int n, float alpha, float* x) {
  if (alpha == 0.0f) {
    gpu_set(n, 0.0f, x);
  } else if (alpha != 1.0f) {
    CUBLAS_CALL(cublasSscal(cuda::cublas_handle(), n, &alpha, x, 1));
  }
}

void gpu_copy(int n, const float* x, float* y) {
  if (x != y && n > 0) CUDA_CALL(cudaMemcpy(y, x, sizeof(float) * n, cudaMemcpyDeviceToDevice));
}

void gpu_set(int n, float value, float* x) {
  if (n <= 0) return;
  if (value == 0.0f) {
    CUDA_CALL(cudaMemset(x, 0, sizeof(float) * n));
  } else {
    launch_elementwise(n, [=] __device__(long long i) { x[i] = value; });
  }
}

void gpu_add(int n, const float* a, const float* b, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = a[i] + b[i]; });
}
void gpu_sub(int n, const float* a, const float* b, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = a[i] - b[i]; });
}
void gpu_mul(int n, const float* a, const float* b, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = a[i] * b[i]; });
}
void gpu_div(int n, const float* a, const float* b, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = a[i] / b[i]; });
}
void gpu_add_scalar(int n, float alpha, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] += alpha; });
}
void gpu_sqr(int n, const float* a, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = a[i] * a[i]; });
}
void gpu_sqrt(int n, const float* a, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = sqrtf(a[i]); });
}
void gpu_exp(int n, const float* a, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = expf(a[i]); });
}
void gpu_abs(int n, const float* a, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = fabsf(a[i]); });
}
void gpu_powx(int n, const float* a, float power, float* y) {
  launch_elementwise(n, [=] __device__(long long i) { y[i] = powf(a[i], power); });
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

}  // namespace caffe
