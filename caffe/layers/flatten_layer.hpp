#pragma once

#include "caffe/layers/reshape_layer.hpp"

namespace caffe {

// Flatten: merges the bottom axes [axis, end_axis] (flatten_param, negative values count from
// the end) into one axis of their product; e.g. [N, C, H, W] -> [N, C*H*W] by default.  The top
// shares the bottom's data and diff.
class FlattenLayer : public BlobViewLayer {
 public:
  using BlobViewLayer::BlobViewLayer;
  const char* type() const override { return "Flatten"; }

 protected:
  std::vector<int> TopShape(const Blob& bottom) const override;
};

}  // namespace caffe
