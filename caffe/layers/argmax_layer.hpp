#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"

namespace caffe {

// ArgMax: the top_k largest values of each vector, as indices or (out_max_val) values.
//   axis unset: each example's values over all axes after the first; the top is (N, 1, top_k)
//     with the indices, or (N, 2, top_k) with the indices then the values (padded with trailing
//     1s to the bottom's axis count, as BVLC shapes it).
//   axis set: along that axis; the top is the bottom's shape with that axis top_k, holding the
//     indices, or the values with out_max_val.
// Larger values first, ties to the lower index, NaN above every number.  No gradient.
class ArgMaxLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "ArgMax"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  bool AllowForceBackward(int /*bottom_index*/) const override { return false; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  // A sort per vector: host only (the GPU path is this one, as in BVLC).
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  // Errors when a gradient is asked for: the ranking is piecewise constant.
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;

 private:
  // Ranks the vector at `position` of the bottom into ranked_ (its first top_k_ entries).
  void RankVector(const float* values, int position);
  // Writes rank j of the vector at `position` into the top.
  void WriteRank(int position, int j, float* out) const;

  bool has_axis_ = false;
  bool out_max_val_ = false;
  int top_k_ = 1;
  AxisSplit split_;  // the bottom around the searched axis (unset: outer N, axis all the rest)
  std::vector<std::pair<float, int>> ranked_;  // (value, index) of the current vector
};

}  // namespace caffe
