#pragma once

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// Base of the element-wise layers (ReLU, TanH, Sigmoid, Dropout): one bottom, one top of the same
// shape.  The top may be the bottom itself (in-place), so subclasses' Backward must not need the
// original bottom values unless they can be recovered from the top.
// Subclasses are written once for both devices (caffe/util/device.hpp): they implement ForwardOn
// and BackwardOn with for_each over functors declared in their header, and instantiate those
// functors for the GPU in their .cu file.
class NeuronLayer : public Layer {
 public:
  using Layer::Layer;
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
  }

 protected:
  virtual void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) = 0;
  // Called only when propagate_down[0].
  virtual void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) = 0;

  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    ForwardOn(Mode::CPU, bottom, top);
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (propagate_down[0]) BackwardOn(Mode::CPU, top, bottom);
  }
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override {
    ForwardOn(Mode::GPU, bottom, top);
  }
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (propagate_down[0]) BackwardOn(Mode::GPU, top, bottom);
  }
#endif
};

// An activation y = f(x) whose gradient needs only y (Sigmoid, TanH): `Activation` gives
// value(x) = f(x) and gradient(dy, y) = dy · f'(x), both CAFFE_HOST_DEVICE.  Such a layer works
// in place.
template <typename Activation>
struct ActivationForward {
  const float* x;
  float* y;
  CAFFE_HOST_DEVICE void operator()(long long i) const { y[i] = Activation::value(x[i]); }
};

template <typename Activation>
struct ActivationBackward {
  const float* y;
  const float* dy;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    dx[i] = Activation::gradient(dy[i], y[i]);
  }
};

template <typename Activation>
class OutputActivationLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override {
    for_each(mode, bottom[0]->count(),
             ActivationForward<Activation>{bottom[0]->data_on(mode), top[0]->mutable_data_on(mode)},
             kComputeMinChunk);
  }
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override {
    for_each(mode, top[0]->count(),
             ActivationBackward<Activation>{top[0]->data_on(mode), top[0]->diff_on(mode),
                                            bottom[0]->mutable_diff_on(mode)},
             kComputeMinChunk);
  }
};

}  // namespace caffe
