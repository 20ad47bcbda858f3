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

float cpu_dot(int n, const float* x, const float* y) { return cblas_sdot(n, x, 1, y, 1); }
float cpu_asum(int n, const float* x) { return cblas_sasum(n, x, 1); }

void cpu_copy_rows(int rows, int row_length, const float* src, int src_stride, float* dst,
                   int dst_stride) {
  if (row_length == 0) return;
  for (int row = 0; row < rows; ++row) {
    std::memcpy(dst + static_cast<long long>(row) * dst_stride,
                src + static_cast<long long>(row) * src_stride, sizeof(float) * row_length);
  }
}

const Blas& blas(Mode mode) {
  static const Blas kCpu{cpu_gemm_ld, cpu_gemv, cpu_axpy, cpu_scal,     cpu_copy,
                         cpu_set,     cpu_dot,  cpu_asum, cpu_copy_rows};
  if (mode == Mode::CPU) return kCpu;
#ifdef CAFFE_USE_CUDA
  return gpu_blas();
#else
  fail("GPU math requested, but this build has no CUDA support");
#endif
}

}  // namespace caffe
