// Engine CAFFE of Convolution and Deconvolution: im2col + one GEMM per image and group, on
// either device (caffe/util/im2col.hpp, the blas(mode) table).  With the im2col matrix col_n of
// image n, K = in_channels / group · kh · kw rows per group and S = out_h · out_w columns:
//   forward           y_n[g] = W[g] · col_n[g]                  ([M/G, K] · [K, S])
//   backward-data     dx_n = col2im(W[g]ᵀ · dy_n[g] for each g)
//   backward-weights  dW[g] += dy_n[g] · col_n[g]ᵀ,  db += dy_n · 1
// A 1x1 kernel with stride 1 and no padding uses the image itself as col_n.
#pragma once

#include "caffe/layers/conv_engine.hpp"
#include "caffe/util/im2col.hpp"

namespace caffe {

class Im2colConvEngine : public ConvEngine {
 public:
  explicit Im2colConvEngine(Mode mode) : mode_(mode) {}

  void Forward(const float* x, const float* weights, const float* bias, float* y) override;
  void BackwardData(const float* dy, const float* weights, float* dx) override;
  void BackwardWeights(const float* x, const float* dy, float* dweights, float* dbias) override;

 protected:
  void Prepare() override;

 private:
  // The im2col matrix of image x_n: x_n itself for pointwise kernels, else col_ filled now.
  const float* ColumnsOf(const float* image);

  Mode mode_;
  Im2colShape shape_{};
  Blob col_;  // one image's im2col matrix [in_channels · kh · kw, out_h · out_w]
  ChannelBias bias_;
};

}  // namespace caffe
