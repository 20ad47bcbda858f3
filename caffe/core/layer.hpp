// Layer: the unit a Net is built from.  A layer is set up once (LayerSetUp), sized for its
// inputs (Reshape, again whenever they change), and then runs Forward (bottom -> top) and
// Backward (top gradients -> bottom and parameter gradients) on the CPU or the GPU.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/common.hpp"
#include "caffe/util/random.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

using BlobVec = std::vector<Blob*>;

class Layer {
 public:
  explicit Layer(const LayerParameter& param);
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Checks the number of bottoms/tops, then runs LayerSetUp and Reshape and records the loss
  // weights.  Errors from here on carry the layer's name and type.
  void SetUp(const BlobVec& bottom, const BlobVec& top);
  // One-time setup: read parameters, create and fill learnable blobs.
  virtual void LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {}
  // Sizes the tops (and internal buffers) for the current bottom shapes.
  virtual void Reshape(const BlobVec& bottom, const BlobVec& top) = 0;

  // Reshapes, computes the tops and returns the weighted loss they contribute.
  float Forward(const BlobVec& bottom, const BlobVec& top);
  // Computes bottom gradients where propagate_down[i] and parameter gradients where
  // param_propagate_down(j).  Parameter gradients accumulate into the params' diffs.
  void Backward(const BlobVec& top, const std::vector<bool>& propagate_down, const BlobVec& bottom);

  virtual const char* type() const = 0;
  const LayerParameter& layer_param() const { return layer_param_; }
  const std::string& name() const { return layer_param_.name(); }
  Phase phase() const { return phase_; }

  std::vector<std::shared_ptr<Blob>>& blobs() { return blobs_; }
  const std::vector<std::shared_ptr<Blob>>& blobs() const { return blobs_; }

  bool param_propagate_down(int index) const {
    return index < static_cast<int>(param_propagate_down_.size()) && param_propagate_down_[index];
  }
  void set_param_propagate_down(int index, bool value);

  float loss_weight(int top_index) const {
    return top_index < static_cast<int>(loss_weights_.size()) ? loss_weights_[top_index] : 0.0f;
  }

  // Blob count constraints; -1 means "no constraint".
  virtual int ExactNumBottomBlobs() const { return -1; }
  virtual int MinBottomBlobs() const { return -1; }
  virtual int MaxBottomBlobs() const { return -1; }
  virtual int ExactNumTopBlobs() const { return -1; }
  virtual int MinTopBlobs() const { return -1; }
  virtual int MaxTopBlobs() const { return -1; }
  virtual bool EqualNumBottomTopBlobs() const { return false; }
  // If true, the Net creates anonymous tops up to MinTopBlobs/ExactNumTopBlobs.
  virtual bool AutoTopBlobs() const { return false; }
  // Loss layers put a default loss weight of 1 on their first top.
  virtual bool IsLoss() const { return false; }
  // True for element-wise layers with f(0) = 0 (ReLU, Dropout, TanH): they carry a bottom's
  // ColumnPattern to the top of the same index.
  virtual bool PreservesZeros() const { return false; }
  // Whether force_backward may request a gradient for this bottom (false for labels, ids...).
  virtual bool AllowForceBackward(int /*bottom_index*/) const { return true; }
  // Gradient sparsification (layers/grad_sparsify): the fraction of non-zeros in the bottom
  // gradient the last Backward wrote.  nullopt for every other layer and before a first
  // Backward.  The solver's display, `caffe time` and pycaffe's Layer.density report it.
  virtual std::optional<double> GradientDensity() const { return std::nullopt; }
  // True for layers that change only the gradient (forward is the identity): a TRAIN Net warns
  // when such a layer gets no gradient to act on.
  virtual bool ActsOnGradientOnly() const { return false; }

  // Per-step context set by the Net: the solver iteration (approximate-dropout schedules index
  // it) and a counter of forward passes that keys the layer's random stream.
  void set_step(int iteration, uint64_t forward_count) {
    iteration_ = iteration;
    forward_count_ = forward_count;
  }
  void set_stream_seed(uint64_t seed) { stream_seed_ = seed; }
  int iteration() const { return iteration_; }
  // Index of the current forward pass (data layers use it to know which batch is due).
  uint64_t forward_count() const { return forward_count_; }
  // Key of this layer's random stream for the current forward pass (see caffe::uniform_at).
  uint64_t step_key() const { return hash_combine(stream_seed_, forward_count_); }

 protected:
  virtual void Forward_cpu(const BlobVec& bottom, const BlobVec& top) = 0;
  // Defaults to the CPU path for layers without a CUDA implementation.
  virtual void Forward_gpu(const BlobVec& bottom, const BlobVec& top) { Forward_cpu(bottom, top); }
  virtual void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                            const BlobVec& bottom) = 0;
  virtual void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                            const BlobVec& bottom) {
    Backward_cpu(top, propagate_down, bottom);
  }

  // Sets the tops' ColumnPattern after a forward pass.  The default clears them, or copies the
  // bottoms' patterns for layers that PreservesZeros(); approximate-dropout layers override it.
  virtual void PropagateColumnPattern(const BlobVec& bottom, const BlobVec& top);

  // Prefix for error messages: "layer 'ip1' (InnerProduct): ".
  std::string context() const;

  LayerParameter layer_param_;
  Phase phase_;
  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<bool> param_propagate_down_;
  std::vector<float> loss_weights_;

 private:
  void CheckBlobCounts(const BlobVec& bottom, const BlobVec& top) const;

  int iteration_ = 0;
  uint64_t forward_count_ = 0;
  uint64_t stream_seed_ = 0;
};

// Checks a parameter blob that came with the model (LayerParameter.blobs) against the shape the
// layer needs: a shape that differs only by leading 1s (legacy 4-d blobs) is accepted and
// reshaped in place, anything else is an error naming `what` ("weight blob"), both shapes and
// `why` (the settings the expected shape follows from).
void check_loaded_param_shape(Blob* blob, const std::vector<int>& expected, const std::string& what,
                              const std::string& why);

// Adds "layer 'name' (Type): " to a caffe::Error thrown by `body`.
template <typename Body>
auto with_layer_context(const Layer& layer, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& error) {
    const std::string what = error.what();
    const std::string prefix = "layer '" + layer.name() + "'";
    if (what.rfind(prefix, 0) == 0) throw;  // already has the context
    throw Error(prefix + " (" + layer.type() + "): " + what);
  }
}

}  // namespace caffe
