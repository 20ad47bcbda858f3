// The host implementations behind the Blas table (caffe/util/device.hpp), OpenBLAS and memcpy.
// Host-only code may call them directly; code written for both devices goes through blas(mode),
// whose device table (cuBLAS) lives in math_functions.cu.
#pragma once

#include "caffe/util/device.hpp"

namespace caffe {

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
