#pragma once

#include <vector>

#include "caffe/core/layer.hpp"

namespace caffe {

// Embed: a learned lookup table.  Every bottom value is an integer id in [0, input_dim); the top
// appends an axis of num_output values:  top[p, :] = W[id_p, :] + b,  W [input_dim, num_output].
// Backward scatter-adds the top gradient into the looked-up rows of W; the ids get no gradient.
class EmbedLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Embed"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  bool AllowForceBackward(int /*bottom_index*/) const override { return false; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif

 private:
  void CheckLoadedBlobs() const;
  // Every id must be an integer in [0, input_dim).  The ids are few (one float per position), so
  // they are checked on the host in both modes and the device kernels may trust them.
  void CheckIds(const Blob& ids) const;
  static void RejectIdGradient(const std::vector<bool>& propagate_down);

  int input_dim_ = 0;
  int num_output_ = 0;
  bool bias_term_ = true;
  Blob ones_;  // one per position: the bias gradient is a GEMV of the top gradient with it
};

}  // namespace caffe
