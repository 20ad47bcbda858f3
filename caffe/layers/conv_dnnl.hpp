// The oneDNN engine of Convolution and Deconvolution (CPU).  At Prepare it describes the
// convolution with layouts left to the library (format any), creates the forward (training),
// backward-data and backward-weights primitives and the reorders between the blobs' plain
// layouts and the chosen ones; a pass only binds the blobs' pointers and executes
// (caffe/util/dnnl_runtime.hpp).  Primitives are built for the thread count of the time
// (blas_threads); a pass after set_blas_threads rebuilds them once.
#pragma once

#ifdef CAFFE_USE_DNNL

#include <dnnl.hpp>

#include "caffe/layers/conv_engine.hpp"

namespace caffe {

// One argument of a primitive: the caller's plain buffer (NCHW data, OIHW / GOIHW weights, a
// bias vector) and, when the primitive chose another layout, a buffer in that layout with the
// reorder between the two, both built once.  An output that accumulates (parameter gradients:
// dW += ...) always goes through its own buffer and a reorder that adds (a sum post-op).
class DnnlTensor {
 public:
  enum class Role { kInput, kOutput, kAccumulate };

  DnnlTensor() = default;
  DnnlTensor(const dnnl::memory::desc& plain, const dnnl::memory::desc& chosen, Role role);

  // The memory to pass to the primitive for the plain buffer `data`; an input in another layout
  // is reordered into it now, unless `reordered` is an input that holds `data` in that layout
  // already.
  dnnl::memory Bind(const float* data, const DnnlTensor* reordered = nullptr);
  // After the primitive ran: moves (or adds) an output computed in its own buffer to the plain
  // buffer last bound.
  void Commit();

 private:
  Role role_ = Role::kInput;
  bool separate_ = false;  // the primitive works on chosen_, not on plain_
  const float* reordered_from_ = nullptr;  // an input's plain buffer last reordered into chosen_
  dnnl::memory plain_, chosen_;
  dnnl::reorder reorder_;
};

class DnnlConvEngine : public ConvEngine {
 public:
  void Forward(const float* x, const float* weights, const float* bias, float* y) override;
  void BackwardData(const float* dy, const float* weights, float* dx) override;
  void BackwardWeights(const float* x, const float* dy, float* dweights, float* dbias) override;
  // Backward-data takes dy as backward-weights reordered it, when both chose one layout.
  void Backward(const float* x, const float* dy, const float* weights, float* dx, float* dweights,
                float* dbias) override;

 protected:
  void Prepare() override;

 private:
  // Rebuilds the primitives when the framework's thread count changed since Prepare.
  void FollowThreadCount();
  void RunBackwardData(const float* dy, const float* weights, float* dx,
                       const DnnlTensor* reordered_dy);

  int prepared_threads_ = 0;
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
