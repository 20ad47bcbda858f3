#include "caffe/util/math_functions.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <glog/logging.h>

#include "caffe/core/common.hpp"

#ifdef CAFFE_USE_DNNL
#include <dnnl.h>

#include "caffe/util/dnnl_runtime.hpp"
#endif

namespace caffe {
namespace {
CBLAS_TRANSPOSE to_cblas(Trans trans) { return trans == Trans::Yes ? CblasTrans : CblasNoTrans; }

// CAFFE_GEMM: unset (oneDNN where built with it), "onednn" or "openblas"; anything else is a
// user error, raised by the first product (a static that throws is initialised again next time).
GemmBackend default_gemm_backend() {
  const char* choice = std::getenv("CAFFE_GEMM");
  if (choice != nullptr && std::strcmp(choice, "openblas") == 0) return GemmBackend::OpenBLAS;
  if (choice != nullptr && std::strcmp(choice, "onednn") != 0) {
    fail("CAFFE_GEMM='", choice, "': expected 'onednn' or 'openblas'");
  }
#ifdef CAFFE_USE_DNNL
  return GemmBackend::OneDNN;
#else
  if (choice != nullptr) fail("CAFFE_GEMM='onednn': this build has no oneDNN");
  return GemmBackend::OpenBLAS;
#endif
}

std::atomic<GemmBackend>& gemm_backend() {
  static std::atomic<GemmBackend> backend{default_gemm_backend()};
  return backend;
}

#ifdef CAFFE_USE_DNNL
void dnnl_gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
               int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  dnnl_runtime::use_blas_threads();
  const dnnl_status_t status =
      dnnl_sgemm(trans_a == Trans::Yes ? 'T' : 'N', trans_b == Trans::Yes ? 'T' : 'N', M, N, K,
                 alpha, A, lda, B, ldb, beta, C, ldc);
  CHECK_EQ(status, dnnl_success) << "dnnl_sgemm " << M << "x" << N << "x" << K;
}
#endif
}  // namespace

GemmBackend cpu_gemm_backend() { return gemm_backend().load(std::memory_order_relaxed); }

void set_cpu_gemm_backend(GemmBackend backend) {
#ifndef CAFFE_USE_DNNL
  if (backend == GemmBackend::OneDNN) fail("GEMM backend oneDNN: this build has no oneDNN");
#endif
  gemm_backend().store(backend, std::memory_order_relaxed);
}

const char* gemm_backend_name(GemmBackend backend) {
  return backend == GemmBackend::OneDNN ? "oneDNN" : "OpenBLAS";
}

void cpu_gemm_ld(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
#ifdef CAFFE_USE_DNNL
  // K = 0 (C = beta · C) stays with OpenBLAS, which defines that case; oneDNN gets real products.
  if (K > 0 && cpu_gemm_backend() == GemmBackend::OneDNN) {
    dnnl_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
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
