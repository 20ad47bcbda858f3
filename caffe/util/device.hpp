// The device idiom: how code that runs on the CPU and on the GPU is written once.
//  - CAFFE_HOST_DEVICE marks a function (typically a functor's operator()) that compiles for both
//    the host and, in .cu files, the device.  A formula lives in one such functor.
//  - for_each(mode, count, fn) calls fn(i) for every i in [0, count): a host loop split over the
//    parallel_for threads, or one CUDA kernel.  for_each(mode, rows, cols, fn) calls fn(r, c)
//    over a grid (the host loops over whole rows, with no index division per element).  A functor
//    used on the GPU is instantiated by one CAFFE_FOR_EACH_GPU(Functor) (or
//    CAFFE_FOR_EACH_GRID_GPU(Functor)) line in a .cu file (caffe/util/device.cuh), so the caller
//    itself can live in a .cpp file.
//  - blas(mode) is the table of dense operations (OpenBLAS on the host, cuBLAS on the device).
//  - Blob::data_on(mode) and friends give a blob's memory on that device.
// A layer written this way has one ForwardOn(Mode, ...) / BackwardOn(Mode, ...) that its
// Forward_cpu / Forward_gpu (and Backward_*) call with Mode::CPU / Mode::GPU.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "caffe/core/common.hpp"
#include "caffe/util/parallel.hpp"

#ifdef __CUDACC__
#define CAFFE_HOST_DEVICE __host__ __device__
#else
#define CAFFE_HOST_DEVICE
#endif

namespace caffe {

// `condition ? if_true : if_false` for two values already computed, without a branch on the
// host.  GCC keeps a plain choice as a branch when an operand is a product it may not evaluate
// unconditionally (it might trap), and such a branch mispredicts on data whose signs are random
// and stops the loop from vectorising; a blend through a bit mask does neither.
CAFFE_HOST_DEVICE inline float select_value(bool condition, float if_true, float if_false) {
#ifdef __CUDA_ARCH__
  return condition ? if_true : if_false;
#else
  uint32_t true_bits, false_bits;
  std::memcpy(&true_bits, &if_true, sizeof(float));
  std::memcpy(&false_bits, &if_false, sizeof(float));
  const uint32_t mask = 0u - static_cast<uint32_t>(condition);
  const uint32_t chosen = (true_bits & mask) | (false_bits & ~mask);
  float value;
  std::memcpy(&value, &chosen, sizeof(float));
  return value;
#endif
}

// ----- element-wise launcher -----

// Host loops shorter than twice the minimum chunk run on the calling thread alone: waking the
// sleeping helper threads costs tens of microseconds, more than it saves on a short loop.
// Memory-bound loops (a load, an operation, a store: ReLU, copies) split from 2^19 elements on;
// loops that hash or call a transcendental function per element (Dropout, Sigmoid, TanH: several
// ns each) pay from far fewer.
constexpr long long kElementwiseMinChunk = 1 << 18;
constexpr long long kComputeMinChunk = 1 << 14;

#ifdef CAFFE_USE_CUDA
// One grid-stride kernel calling fn(i); defined in caffe/util/device.cuh.
template <typename Fn>
void for_each_gpu(long long count, const Fn& fn);
#endif

template <typename Fn>
void for_each(Mode mode, long long count, const Fn& fn,
              long long min_chunk = kElementwiseMinChunk) {
  if (count <= 0) return;
  if (mode == Mode::GPU) {
#ifdef CAFFE_USE_CUDA
    for_each_gpu(count, fn);
    return;
#else
    fail("GPU mode is not available in a CPU-only build");
#endif
  }
  parallel_for(count, min_chunk, [&fn](long long begin, long long end) {
    // A local copy: the functor's pointers then cannot alias the elements it writes, so the
    // compiler keeps them in registers and vectorises the loop (branches become selects).
    const Fn body = fn;
    for (long long i = begin; i < end; ++i) body(i);
  });
}

// A grid functor fn(r, c) seen as an element-wise one over the cells, row-major (what the device
// runs for the grid form of for_each).
template <typename Fn>
struct GridCell {
  Fn fn;
  int cols;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    fn(static_cast<int>(i / cols), static_cast<int>(i % cols));
  }
};

template <typename Fn>
void for_each(Mode mode, int rows, int cols, const Fn& fn,
              long long min_chunk = kElementwiseMinChunk) {
  if (rows <= 0 || cols <= 0) return;
  if (mode == Mode::GPU) {
    for_each(mode, static_cast<long long>(rows) * cols, GridCell<Fn>{fn, cols});
    return;
  }
  const long long min_rows = std::max(1LL, min_chunk / cols);
  parallel_for(rows, min_rows, [&fn, cols](long long begin, long long end) {
    const Fn body = fn;  // as above: a copy that the stores cannot alias
    for (long long r = begin; r < end; ++r) {
      for (int c = 0; c < cols; ++c) body(static_cast<int>(r), c);
    }
  });
}

// ----- dense operations -----

enum class Trans { No, Yes };

// Matrices are row-major.  gemm: C [M x N] = alpha · op(A) [M x K] · op(B) [K x N] + beta · C;
// gemm_ld takes explicit leading dimensions, so that evenly spaced rows (for example every
// dp-th row of a weight matrix) or a block of columns are used in place, without a copy.
struct Blas {
  void (*gemm_ld)(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
                  int lda, const float* B, int ldb, float beta, float* C, int ldc);
  // y = alpha · op(A) x + beta · y, A is M x N.
  void (*gemv)(Trans trans_a, int M, int N, float alpha, const float* A, const float* x, float beta,
               float* y);
  void (*axpy)(int n, float alpha, const float* x, float* y);  // y += alpha · x
  void (*scal)(int n, float alpha, float* x);                  // x *= alpha (0 clears NaN too)
  void (*copy)(int n, const float* x, float* y);
  void (*set)(int n, float value, float* x);
  float (*dot)(int n, const float* x, const float* y);
  float (*asum)(int n, const float* x);
  // `rows` rows of `row_length` values from src (rows src_stride apart) to dst (dst_stride apart).
  void (*copy_rows)(int rows, int row_length, const float* src, int src_stride, float* dst,
                    int dst_stride);

  // gemm_ld with packed operands: the leading dimensions follow from the shapes.
  void gemm(Trans trans_a, Trans trans_b, int M, int N, int K, float alpha, const float* A,
            const float* B, float beta, float* C) const {
    gemm_ld(trans_a, trans_b, M, N, K, alpha, A, trans_a == Trans::No ? K : M, B,
            trans_b == Trans::No ? N : K, beta, C, N);
  }
};

// The table for a device; errors for Mode::GPU in a CPU-only build.
const Blas& blas(Mode mode);

}  // namespace caffe
