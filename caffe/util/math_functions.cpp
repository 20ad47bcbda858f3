#include "caffe/util/math_functions.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {
CBLAS_TRANSPOSE to_cblas(Trans trans) { return trans == Trans::Yes ? CblasTrans : CblasNoTrans; }
}  // namespace

void cpu_gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C) {
  const int lda = trans_a == Trans::No ? K : M;
  const int ldb = trans_b == Trans::No ? N : K;
  cpu_gemm_ld(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
}

void cpu_gemm_ld(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, to_cblas(trans_a), to_cblas(trans_b), M, N, K, alpha, A, lda, B, ldb,
              beta, C, ldc);
}

void cpu_gemv(Trans trans_a, int M, int N, float alpha, const float* A, const float* x, float beta,
              float* y) {
  cblas_sgemv(CblasRowMajor, to_cblas(trans_a), M, N, alpha, A, N, x, 1, beta, y, 1);
}

void cpu_axpy(int n, float alpha, const float* x, float* y) { cblas_saxpy(n, alpha, x, 1, y, 1); }

void cpu_axpby(int n, float alpha, const float* x, float beta, float* y) {
  for (int i = 0; i < n; ++i) y[i] = alpha * x[i] + beta * y[i];
}

void cpu_scal(int n, float alpha, float* x) {
  if (alpha == 0.0f) {
    std::memset(x, 0, sizeof(float) * n);  // also clears NaN/Inf, as a product by 0 would not
  } else if (alpha != 1.0f) {
    cblas_sscal(n, alpha, x, 1);
  }
}

void cpu_copy(int n, const float* x, float* y) {
  if (x != y) std::memcpy(y, x, sizeof(float) * n);
}

void cpu_set(int n, float value, float* x) {
  if (value == 0.0f) {
    std::memset(x, 0, sizeof(float) * n);
  } else {
    std::fill(x, x + n, value);
  }
}

void cpu_add(int n, const float* a, const float* b, float* y) {
  for (int i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void cpu_sub(int n, const float* a, const float* b, float* y) {
  for (int i = 0; i < n; ++i) y[i] = a[i] - b[i];
}
void cpu_mul(int n, const float* a, const float* b, float* y) {
  for (int i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void cpu_div(int n, const float* a, const float* b, float* y) {
  for (int i = 0; i < n; ++i) y[i] = a[i] / b[i];
}
void cpu_add_scalar(int n, float alpha, float* y) {
  for (int i = 0; i < n; ++i) y[i] += alpha;
}
void cpu_sqr(int n, const float* a, float* y) {
  for (int i = 0; i < n; ++i) y[i] = a[i] * a[i];
}
void cpu_sqrt(int n, const float* a, float* y) {
  for (int i = 0; i < n; ++i) y[i] = std::sqrt(a[i]);
}
void cpu_exp(int n, const float* a, float* y) {
  for (int i = 0; i < n; ++i) y[i] = std::exp(a[i]);
}
void cpu_abs(int n, const float* a, float* y) {
  for (int i = 0; i < n; ++i) y[i] = std::fabs(a[i]);
}
void cpu_powx(int n, const float* a, float power, float* y) {
  for (int i = 0; i < n; ++i) y[i] = std::pow(a[i], power);
}

float cpu_dot(int n, const float* x, const float* y) { return cblas_sdot(n, x, 1, y, 1); }
float cpu_asum(int n, const float* x) { return cblas_sasum(n, x, 1); }

#ifndef CAFFE_USE_CUDA
// CPU-only build: the device functions exist so that mode-dispatching code links, and say why
// they cannot run if they are ever reached.
namespace {
[[noreturn]] void no_gpu() { fail("GPU math requested, but this build has no CUDA support"); }
}  // namespace
void gpu_gemm(Trans, Trans, int, int, int, float, const float*, const float*, float, float*) { no_gpu(); }
void gpu_gemm_ld(Trans, Trans, int, int, int, float, const float*, int, const float*, int, float,
                 float*, int) { no_gpu(); }
void gpu_gemv(Trans, int, int, float, const float*, const float*, float, float*) { no_gpu(); }
void gpu_axpy(int, float, const float*, float*) { no_gpu(); }
void gpu_axpby(int, float, const float*, float, float*) { no_gpu(); }
void gpu_scal(int, float, float*) { no_gpu(); }
void gpu_copy(int, const float*, float*) { no_gpu(); }
void gpu_set(int, float, float*) { no_gpu(); }
void gpu_add(int, const float*, const float*, float*) { no_gpu(); }
void gpu_sub(int, const float*, const float*, float*) { no_gpu(); }
void gpu_mul(int, const float*, const float*, float*) { no_gpu(); }
void gpu_div(int, const float*, const float*, float*) { no_gpu(); }
void gpu_add_scalar(int, float, float*) { no_gpu(); }
void gpu_sqr(int, const float*, float*) { no_gpu(); }
void gpu_sqrt(int, const float*, float*) { no_gpu(); }
void gpu_exp(int, const float*, float*) { no_gpu(); }
void gpu_abs(int, const float*, float*) { no_gpu(); }
void gpu_powx(int, const float*, float, float*) { no_gpu(); }
float gpu_dot(int, const float*, const float*) { no_gpu(); }
float gpu_asum(int, const float*) { no_gpu(); }
#endif

}  // namespace caffe
