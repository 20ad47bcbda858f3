#pragma once

#include "caffe/core/layer.hpp"

namespace caffe {

// Base of the element-wise layers (ReLU, TanH, Sigmoid, Dropout): one bottom, one top of the same
// shape.  The top may be the bottom itself (in-place), so subclasses' Backward must not need the
// original bottom values unless they can be recovered from the top.
class NeuronLayer : public Layer {
 public:
  using Layer::Layer;
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
  }
};

}  // namespace caffe
