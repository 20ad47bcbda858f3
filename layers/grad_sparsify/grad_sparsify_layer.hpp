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
// or Inf in g makes it non-finite, which is an error), then the pruning pass.  The first is
// skipped where the layer that wrote g noted Σ|g| on the blob (Blob::take_diff_abs_sum: a
// BatchNorm above it in Conv-BN nets, on the host), since on nets such as MobileNet the two
// memory-bound passes are most of what the layer costs.  The pruning pass also counts
// the non-zeros it writes: GradientDensity() reports nnz / n of the last TRAIN backward.  Four
// neighbouring values share one counter-based draw of 64 bits, 16 each (group_bits), so host and
// device prune alike and a resumed run repeats them.  The host runs the pruning pass block by
// block, the draws of a block first and then a branch-free vector loop over its values
// (grad_sparsify_layer.cpp); the device runs SparsifyGroup, one thread per four values.  In place
// (top == bottom) the forward does nothing.
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
  // The pruning pass with threshold_: writes out, returns its non-zeros.
  double Sparsify(Mode mode, long long count, const float* gradient, float* out);

  double z_ = 0;  // Φ⁻¹(percentile)
  bool stochastic_ = true;
  float threshold_ = 0;
  std::optional<double> density_;
  std::unique_ptr<SyncedMemory> partials_;  // block_sum scratch
};

// |g_i|, summed by block_sum into Σ|g|.
struct GradientMagnitude {
  const float* gradient;
  CAFFE_HOST_DEVICE float operator()(long long i) const { return fabsf(gradient[i]); }
};

constexpr int kValuesPerDraw = 4;

// The 64 random bits of values 4q .. 4q + 3 of the stream `key`; value 4q + j takes bits
// 16j .. 16j + 15.  (The hash of caffe::uniform_bits_at, which keeps the top 24 of them.)
CAFFE_HOST_DEVICE inline uint64_t group_bits(uint64_t key, uint64_t group) {
  return mix64(key ^ (group * 0xD1B54A32D192ED03ull));
}

// ĝ for one value g with 16 random bits b: g when |g| >= τ; otherwise sign(g)·τ when u·τ < |g|
// for u = (b + 1/2) / 2^16, which holds with probability |g|/τ to within 2^-17 (so E[ĝ] is g to
// within τ / 2^17) and never for g = 0; else 0.  Selects, no branches: the host vectorizes it.
// u is exact and u·τ is the only rounding (no sum, so no FMA can change it on either device).
CAFFE_HOST_DEVICE inline float sparsified(float g, float threshold, uint32_t bits,
                                          bool stochastic) {
  const float magnitude = fabsf(g);
  const float uniform = (static_cast<float>(bits & 0xFFFFu) + 0.5f) * (1.0f / 65536.0f);
  const bool promoted = stochastic && uniform * threshold < magnitude;
  const float small = promoted ? copysignf(threshold, g) : 0.0f;
  return magnitude < threshold ? small : g;
}

// The pruning of values 4q .. 4q + 3 (those below `count`); returns how many of them are
// non-zero (block_sum counts them).
struct SparsifyGroup {
  const float* gradient;
  float* out;
  long long count;
  float threshold;
  uint64_t key;
  bool stochastic;
  CAFFE_HOST_DEVICE float operator()(long long group) const {
    const uint64_t bits = group_bits(key, static_cast<uint64_t>(group));
    const long long first = group * kValuesPerDraw;
    float nonzeros = 0;
    for (int j = 0; j < kValuesPerDraw && first + j < count; ++j) {
      const float value = sparsified(gradient[first + j], threshold,
                                     static_cast<uint32_t>(bits >> (16 * j)), stochastic);
      out[first + j] = value;
      nonzeros += value != 0.0f ? 1.0f : 0.0f;
    }
    return nonzeros;
  }
};

// Φ⁻¹(p) for p in [0.5, 1): the standard normal quantile, by bisection on Φ (std::erfc).
double normal_quantile(double p);

}  // namespace caffe
