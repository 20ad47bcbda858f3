#pragma once

#include "caffe/core/layer.hpp"

namespace caffe {

// Base of the layers whose top is the bottom under another shape (Reshape, Flatten): the top
// shares the bottom's data and diff, so Forward and Backward do no work on either device.
class BlobViewLayer : public Layer {
 public:
  using Layer::Layer;
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) final;

 protected:
  // The top's shape for this bottom; errors when the bottom cannot take it.
  virtual std::vector<int> TopShape(const Blob& bottom) const = 0;

  void Forward_cpu(const BlobVec&, const BlobVec&) final {}
  void Forward_gpu(const BlobVec&, const BlobVec&) final {}
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) final {}
  void Backward_gpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) final {}
};

// Reshape: the top is the bottom with axes [axis, axis + num_axes) replaced by reshape_param.shape,
// where a 0 copies the bottom's dimension at that position and one -1 is inferred from the
// element count.  A negative axis counts from the end, -1 meaning after the last axis.
class ReshapeLayer : public BlobViewLayer {
 public:
  using BlobViewLayer::BlobViewLayer;
  const char* type() const override { return "Reshape"; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  std::vector<int> TopShape(const Blob& bottom) const override;

 private:
  // The bottom axes [first, end) that reshape_param.shape replaces.
  void ReplacedRange(const Blob& bottom, int* first, int* end) const;
};

}  // namespace caffe
