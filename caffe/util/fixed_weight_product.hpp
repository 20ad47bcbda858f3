#pragma once

#include <memory>

#include "caffe/util/device.hpp"

namespace caffe {

// C [M, N] = op(A) [M, K] · op(W) + beta · C for many A against one W: the recurrent products of
// an LSTM, where every time step multiplies its few rows (one per stream) by the same W_hc.
// Host with oneDNN: Prepare reorders W once into the blocked layout that oneDNN's matmul kernels
// read (AVX-512 or AVX2, whichever the CPU has), and every Run is one matmul over it.  A product
// of 20 rows is too small to amortise what a BLAS call does with W each time (OpenBLAS copies W
// into its panel layout on every call), so packing W once per pass instead of once per step
// makes each step's product about 2-3x faster.  A single Run is also a plain product on those
// kernels (the LSTM's W_hc gradient).  Device, or a build without oneDNN: Run is
// blas(mode).gemm.
class FixedWeightProduct {
 public:
  FixedWeightProduct();
  ~FixedWeightProduct();
  FixedWeightProduct(const FixedWeightProduct&) = delete;
  FixedWeightProduct& operator=(const FixedWeightProduct&) = delete;

  // Sets the shape, how A and W are stored (row-major [M, K] or, for Trans::Yes, [K, M]; W
  // likewise [K, N] or [N, K]), W and beta (0 or 1) of the following Run calls; W must not change
  // until the last of them.
  void Prepare(Mode mode, Trans trans_a, int M, int N, int K, Trans trans_w, const float* weight,
               float beta);
  // C = op(A) · op(W) + beta · C, row-major on the prepared mode's device.
  void Run(const float* a, float* c) const;

 private:
  Mode mode_ = Mode::CPU;
  int M_ = 0, N_ = 0, K_ = 0;
  Trans trans_a_ = Trans::No;
  Trans trans_w_ = Trans::No;
  const float* weight_ = nullptr;
  float beta_ = 0.0f;
#ifdef CAFFE_USE_DNNL
  struct Setup;
  class Packed;  // the matmul primitive and W in its layout; rebuilt when the setup changes
  std::unique_ptr<Packed> packed_;
#endif
};

}  // namespace caffe
