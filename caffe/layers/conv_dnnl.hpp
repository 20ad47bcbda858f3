// The oneDNN engine of Convolution and Deconvolution (CPU).  At Prepare it describes the
// convolution with layouts left to the library (format any), creates the forward (training),
// backward-data and backward-weights primitives and the reorders between the blobs' plain
// layouts and the chosen ones (caffe/util/dnnl_context.hpp); a pass only binds the blobs'
// pointers and executes.  Primitives are built for the thread count of the time (blas_threads);
// a pass after set_blas_threads rebuilds them once.  Errors from the library become caffe::Error.
#pragma once

#ifdef CAFFE_USE_DNNL

#include <dnnl.hpp>

#include "caffe/layers/conv_engine.hpp"
#include "caffe/util/dnnl_context.hpp"

namespace caffe {

class DnnlConvEngine : public ConvEngine {
 public:
  void Forward(const float* x, const float* weights, const float* bias, float* y) override;
  void BackwardData(const float* dy, const float* weights, float* dx) override;
  void BackwardWeights(const float* x, const float* dy, float* dweights, float* dbias) override;

 protected:
  void Prepare() override;

 private:
  // Rebuilds the primitives when the framework's thread count changed since Prepare, and sets
  // the calling thread's OpenMP team size to it.
  void MatchThreads();

  int prepared_threads_ = 0;
  dnnl::stream stream_;
  dnnl::convolution_forward forward_;
  dnnl::convolution_backward_data backward_data_;
  dnnl::convolution_backward_weights backward_weights_;
  struct {
    DnnlTensor x, weights, bias, y;
  } forward_args_;
  struct {
    DnnlTensor dy, weights, dx;
  } data_args_;
  struct {
    DnnlTensor x, dy, dweights, dbias;
  } weights_args_;
};

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
