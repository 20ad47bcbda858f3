// Dense math on float arrays: BLAS wrappers (OpenBLAS on the host, cuBLAS on the device) and the
// element-wise helpers the layers share.  Matrices are row-major.  GEMM computes
//   C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C,
// and the *_ld variants take explicit leading dimensions so that a strided subset of rows
// (e.g. every dp-th row of a weight matrix) is used in place, without a copy.
#pragma once

namespace caffe {

enum class Trans { No, Yes };

// ----- host -----
void cpu_gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C);
void cpu_gemm_ld(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc);
// y = alpha * op(A) x + beta * y, A is M x N.
void cpu_gemv(Trans trans_a, int M, int N, float alpha, const float* A, const float* x, float beta,
              float* y);
void cpu_axpy(int n, float alpha, const float* x, float* y);           // y += alpha x
void cpu_axpby(int n, float alpha, const float* x, float beta, float* y);  // y = alpha x + beta y
void cpu_scal(int n, float alpha, float* x);
void cpu_copy(int n, const float* x, float* y);
void cpu_set(int n, float value, float* x);
void cpu_add(int n, const float* a, const float* b, float* y);
void cpu_sub(int n, const float* a, const float* b, float* y);
void cpu_mul(int n, const float* a, const float* b, float* y);
void cpu_div(int n, const float* a, const float* b, float* y);
void cpu_add_scalar(int n, float alpha, float* y);
void cpu_sqr(int n, const float* a, float* y);
void cpu_sqrt(int n, const float* a, float* y);
void cpu_exp(int n, const float* a, float* y);
void cpu_abs(int n, const float* a, float* y);
void cpu_powx(int n, const float* a, float power, float* y);
float cpu_dot(int n, const float* x, const float* y);
float cpu_asum(int n, const float* x);

// ----- device (errors in a CPU-only build) -----
void gpu_gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C);
void gpu_gemm_ld(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc);
void gpu_gemv(Trans trans_a, int M, int N, float alpha, const float* A, const float* x, float beta,
              float* y);
void gpu_axpy(int n, float alpha, const float* x, float* y);
void gpu_axpby(int n, float alpha, const float* x, float beta, float* y);
void gpu_scal(int n, float alpha, float* x);
void gpu_copy(int n, const float* x, float* y);
void gpu_set(int n, float value, float* x);
void gpu_add(int n, const float* a, const float* b, float* y);
void gpu_sub(int n, const float* a, const float* b, float* y);
void gpu_mul(int n, const float* a, const float* b, float* y);
void gpu_div(int n, const float* a, const float* b, float* y);
void gpu_add_scalar(int n, float alpha, float* y);
void gpu_sqr(int n, const float* a, float* y);
void gpu_sqrt(int n, const float* a, float* y);
void gpu_exp(int n, const float* a, float* y);
void gpu_abs(int n, const float* a, float* y);
void gpu_powx(int n, const float* a, float power, float* y);
float gpu_dot(int n, const float* x, const float* y);
float gpu_asum(int n, const float* x);

}  // namespace caffe
