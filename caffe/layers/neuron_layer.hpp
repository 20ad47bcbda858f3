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

}  // namespace caffe
