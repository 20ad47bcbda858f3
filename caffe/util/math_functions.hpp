// The host implementations behind the Blas table (caffe/util/device.hpp): OpenBLAS (GEMM on
// oneDNN where built with it) and memcpy.
// Host-only code may call them directly; code written for both devices goes through blas(mode),
// whose device table (cuBLAS) lives in math_functions.cu.
#pragma once

#include "caffe/util/device.hpp"

namespace caffe {

// The library behind the host GEMMs.  oneDNN's sgemm (the default when built with oneDNN) picks
// its kernels for the CPU it runs on (AVX-512 where present), whereas OpenBLAS keeps the core
// type it was told (OPENBLAS_CORETYPE) or detected: on an AVX-512 machine told Haswell, the LSTM
// and decoder products ran about twice as fast on oneDNN (docs/benchmarks.md).  CAFFE_GEMM=openblas
// in the environment (read on first use) or set_cpu_gemm_backend select OpenBLAS.
enum class GemmBackend { OpenBLAS, OneDNN };
GemmBackend cpu_gemm_backend();
// Throws caffe::Error for OneDNN in a build without oneDNN.
void set_cpu_gemm_backend(GemmBackend backend);
const char* gemm_backend_name(GemmBackend backend);

void cpu_gemm_ld(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc);
void cpu_gemv(Trans trans_a, int M, int N, float alpha, const float* A, const float* x, float beta,
              float* y);
void cpu_axpy(int n, float alpha, const float* x, float* y);
void cpu_scal(int n, float alpha, float* x);
void cpu_copy(int n, const float* x, float* y);
void cpu_set(int n, float value, float* x);
float cpu_dot(int n, const float* x, const float* y);
float cpu_asum(int n, const float* x);
void cpu_copy_rows(int rows, int row_length, const float* src, int src_stride, float* dst,
                   int dst_stride);

#ifdef CAFFE_USE_CUDA
// The device table (cuBLAS and CUDA copies), defined in math_functions.cu; use blas(Mode::GPU).
const Blas& gpu_blas();
#endif

}  // namespace caffe
