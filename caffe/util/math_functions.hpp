// The implementations behind the Blas table (caffe/util/device.hpp): OpenBLAS on the host
// (cpu_*), cuBLAS and CUDA copies on the device (gpu_*; in a CPU-only build they fail with a
// clear error).  Code that runs on one device only may call them directly; code written for both
// goes through blas(mode).
#pragma once

#include "caffe/util/device.hpp"

namespace caffe {

// ----- host -----
void cpu_gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C);
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

// ----- device -----
void gpu_gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C);
void gpu_gemm_ld(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc);
void gpu_gemv(Trans trans_a, int M, int N, float alpha, const float* A, const float* x, float beta,
              float* y);
void gpu_axpy(int n, float alpha, const float* x, float* y);
void gpu_scal(int n, float alpha, float* x);
void gpu_copy(int n, const float* x, float* y);
void gpu_set(int n, float value, float* x);
float gpu_dot(int n, const float* x, const float* y);
float gpu_asum(int n, const float* x);
void gpu_copy_rows(int rows, int row_length, const float* src, int src_stride, float* dst,
                   int dst_stride);

}  // namespace caffe
