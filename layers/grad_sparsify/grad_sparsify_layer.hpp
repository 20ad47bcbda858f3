#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>

#include "caffe/core/synced_memory.hpp"
#include "caffe/layers/neuron_layer.hpp"
#include "caffe/util/random.hpp"

namespace caffe {

// GradSparsify (Ye et al., "Accelerating CNN Training by Sparsifying Activation Gradients"):
// forward y = x.  TRAIN backward on the incoming gradient g (n values): σ̂ = sqrt(π/2)·mean|g|,
// τ = σ̂·Φ⁻¹(p); each |g_i| < τ becomes sign(g_i)·τ with probability |g_i|/τ, else 0 (E[ĝ] = g),
// |g_i| ≥ τ stays; `stochastic: false` sets every |g_i| < τ to 0.  TEST backward passes g.
//
// Two passes on either device: a deterministic block sum of |g| (caffe/util/block_sum.hpp; a NaN
// or Inf in g makes it non-finite, which is an error), then the pruning pass, which also counts
// the non-zeros it writes: GradientDensity() reports nnz / n of the last TRAIN backward.  The
// draws are uniform_at(step_key(), i), so host and device prune alike and a resumed run repeats
// them.  In place (top == bottom) the forward does nothing.
class GradSparsifyLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "GradSparsify"; }
  bool PreservesZeros() const override { return true; }  // the identity
  bool ActsOnGradientOnly() const override { return true; }
  std::optional<double> GradientDensity() const override { return density_; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

  // τ for the incoming gradient of the last TRAIN backward (tests check it).
  float last_threshold() const { return threshold_; }

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;

 private:
  double z_ = 0;  // Φ⁻¹(percentile)
  bool stochastic_ = true;
  float threshold_ = 0;
  std::optional<double> density_;
  std::unique_ptr<SyncedMemory> partials_;  // block_sum scratch
};

// |g_i|, summed by block_sum into Σ|g|.
struct GradientMagnitude {
  const float* gradient;
  CAFFE_HOST_DEVICE double operator()(long long i) const { return fabsf(gradient[i]); }
};

// Writes the sparsified gradient value i and returns 1 where it is non-zero (block_sum counts
// them).  u_i · τ < |g_i| holds with probability |g_i| / τ, and never for g_i = 0.
struct SparsifyGradient {
  const float* gradient;
  float* out;
  float threshold;
  uint64_t key;
  bool stochastic;
  CAFFE_HOST_DEVICE double operator()(long long i) const {
    const float g = gradient[i];
    const float magnitude = fabsf(g);
    float value = g;
    if (magnitude < threshold) {
      const bool promoted =
          stochastic && uniform_at(key, static_cast<uint64_t>(i)) * threshold < magnitude;
      value = promoted ? copysignf(threshold, g) : 0.0f;
    }
    out[i] = value;
    return value != 0.0f ? 1.0 : 0.0;
  }
};

// Φ⁻¹(p) for p in [0.5, 1): the standard normal quantile, by bisection on Φ (std::erfc).
double normal_quantile(double p);

}  // namespace caffe
