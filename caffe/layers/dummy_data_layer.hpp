#pragma once

#include <vector>

#include "caffe/core/layer.hpp"

namespace caffe {

// DummyData: tops of fixed shapes filled by fillers, for tests and for nets run without data.
// dummy_data_param gives one shape for all tops or one per top (`shape`, or the legacy
// num/channels/height/width, each once or once per top), and no data_filler (constant 0), one
// for all tops or one per top.  Tops are filled at setup; a top whose filler is not "constant"
// is refilled, with fresh draws, on every forward pass.  No bottoms, no gradient.
class DummyDataLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "DummyData"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& /*bottom*/, const BlobVec& /*top*/) override {}

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& /*top*/, const std::vector<bool>& /*propagate_down*/,
                    const BlobVec& /*bottom*/) override {}

 private:
  std::vector<FillerParameter> fillers_;  // per top
};

}  // namespace caffe
