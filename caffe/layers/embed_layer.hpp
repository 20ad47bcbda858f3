#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"

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
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);
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

// out[p, j] = weight[id_p, j] (+ bias[j]), over the positions × width grid.
struct EmbedLookup {
  int width;
  const float* ids;
  const float* weight;
  const float* bias;  // null without bias_term
  float* out;
  CAFFE_HOST_DEVICE void operator()(int position, int j) const {
    const float value = weight[static_cast<long long>(ids[position]) * width + j];
    out[static_cast<long long>(position) * width + j] = bias ? value + bias[j] : value;
  }
};

// weight_diff[id_p, :] += top_diff[p, :].  Repeated ids add into the same row: atomically on the
// device; the host runs it on one thread, in position order.
struct EmbedScatterAdd {
  int width;
  const float* ids;
  const float* top_diff;
  float* weight_diff;
  CAFFE_HOST_DEVICE void operator()(int position, int j) const {
    float* to = weight_diff + static_cast<long long>(ids[position]) * width + j;
    const float gradient = top_diff[static_cast<long long>(position) * width + j];
#ifdef __CUDA_ARCH__
    atomicAdd(to, gradient);
#else
    *to += gradient;
#endif
  }
};

}  // namespace caffe
