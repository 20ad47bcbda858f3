#include "layers/grad_sparsify/grad_sparsify_layer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/block_sum.hpp"

namespace caffe {

namespace {

// GCC on x86-64 Linux also compiles the host pruning kernel for AVX-512 and AVX2 and picks one
// when the library loads: only AVX-512 vectorizes the draws' 64-bit multiplies, and the selects
// over the values run two to four times as wide.  Every clone computes the same floats (see
// sparsified).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CAFFE_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CAFFE_VECTOR_CLONES
#endif

// The pruning pass over the values [begin, end) of one sum block on the host, SparsifyGroup's
// results for the block's groups; returns its non-zeros.
CAFFE_VECTOR_CLONES int sparsify_block(const float* gradient, float* out, long long begin,
                                       long long end, float threshold, uint64_t key,
                                       bool stochastic) {
  static_assert(kSumBlock % kValuesPerDraw == 0, "a draw's values lie in one sum block");
#if defined(__BYTE_ORDER__)
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "the 16-bit words of a draw are copied out in value order");
#endif
  // The block's draws first (scalar: 64-bit multiplies), 16 bits per value in value order.
  uint16_t bits[kSumBlock];
  const long long values = end - begin;
  if (stochastic) {
    const long long first_group = begin / kValuesPerDraw;
    for (long long q = 0; q * kValuesPerDraw < values; ++q) {
      const uint64_t draw = group_bits(key, static_cast<uint64_t>(first_group + q));
      std::memcpy(bits + q * kValuesPerDraw, &draw, sizeof(draw));
    }
  } else {
    std::fill(bits, bits + values, uint16_t{0});
  }
  // Then the values, branch-free (in place too: value j is read before it is written).
  int nonzeros = 0;
  for (long long j = 0; j < values; ++j) {
    const float value = sparsified(gradient[begin + j], threshold, bits[j], stochastic);
    out[begin + j] = value;
    nonzeros += value != 0.0f;
  }
  return nonzeros;
}

}  // namespace

double normal_quantile(double p) {
  // Φ(z) = erfc(-z / √2) / 2 rises from 1/2 at z = 0; Φ⁻¹ of the largest float below 1 is
  // about 5.3, so [0, 10] holds every root and 80 halvings leave it exact in double.
  double low = 0.0, high = 10.0;
  for (int step = 0; step < 80; ++step) {
    const double middle = 0.5 * (low + high);
    if (0.5 * std::erfc(-middle / std::sqrt(2.0)) < p) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return 0.5 * (low + high);
}

void GradSparsifyLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& top) {
  const GradSparsifyParameter& param = layer_param_.grad_sparsify_param();
  const float percentile = param.percentile();
  if (!(percentile >= 0.5f && percentile < 1.0f)) {
    fail("grad_sparsify_param.percentile must be in [0.5, 1), got ", percentile);
  }
  z_ = normal_quantile(percentile);
  stochastic_ = param.stochastic();
  top[0]->request_diff_abs_sum();  // a BatchNorm writing this gradient sums |g| on the way
}

void GradSparsifyLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  if (top[0] == bottom[0]) return;
  blas(mode).copy(bottom[0]->count(), bottom[0]->data_on(mode), top[0]->mutable_data_on(mode));
}

void GradSparsifyLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const long long count = top[0]->count();
  // Taken first: in place, the mutable pointer below makes the note stale.
  const std::optional<double> noted_magnitude_sum = top[0]->take_diff_abs_sum();
  const float* gradient = top[0]->diff_on(mode);
  float* out = bottom[0]->mutable_diff_on(mode);
  if (phase_ != TRAIN) {
    if (top[0] != bottom[0]) blas(mode).copy(static_cast<int>(count), gradient, out);
    return;
  }
  if (count == 0) return;
  block_sum_buffer(count, &partials_);
  const double magnitude_sum =
      noted_magnitude_sum ? *noted_magnitude_sum
                          : block_sum(mode, count, GradientMagnitude{gradient}, partials_.get());
  if (!std::isfinite(magnitude_sum)) {
    fail("the incoming gradient (", count, " values) holds ",
         std::isnan(magnitude_sum) ? "a NaN" : "an Inf",
         ", so no threshold can be set; training diverged above this layer (try a lower base_lr "
         "or clip_gradients)");
  }
  // σ̂ = sqrt(π/2) · mean|g| estimates σ for zero-mean normal g (E|g| = σ · sqrt(2/π)).
  const double sigma = std::sqrt(M_PI / 2.0) * magnitude_sum / static_cast<double>(count);
  threshold_ = static_cast<float>(sigma * z_);
  density_ = Sparsify(mode, count, gradient, out) / static_cast<double>(count);
}

double GradSparsifyLayer::Sparsify(Mode mode, long long count, const float* gradient, float* out) {
  if (mode == Mode::GPU) {
    const long long groups = (count + kValuesPerDraw - 1) / kValuesPerDraw;
    return block_sum(mode, groups,
                     SparsifyGroup{gradient, out, count, threshold_, step_key(), stochastic_},
                     partials_.get(), kComputeMinChunk);
  }
  double* nonzeros = static_cast<double*>(partials_->mutable_cpu_data());
  const uint64_t key = step_key();
  const long long blocks = sum_blocks(count);
  parallel_for(blocks, kElementwiseMinChunk / kSumBlock, [&](long long first, long long last) {
    for (long long b = first; b < last; ++b) {
      nonzeros[b] =
          sparsify_block(gradient, out, b * kSumBlock, std::min((b + 1) * kSumBlock, count),
                         threshold_, key, stochastic_);
    }
  });
  return sum_in_order(nonzeros, blocks);
}

REGISTER_LAYER("GradSparsify", GradSparsifyLayer);

}  // namespace caffe
