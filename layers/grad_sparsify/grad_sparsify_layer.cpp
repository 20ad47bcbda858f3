#include "layers/grad_sparsify/grad_sparsify_layer.hpp"

#include <cmath>

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/block_sum.hpp"

namespace caffe {

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

void GradSparsifyLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const GradSparsifyParameter& param = layer_param_.grad_sparsify_param();
  const float percentile = param.percentile();
  if (!(percentile >= 0.5f && percentile < 1.0f)) {
    fail("grad_sparsify_param.percentile must be in [0.5, 1), got ", percentile);
  }
  z_ = normal_quantile(percentile);
  stochastic_ = param.stochastic();
}

void GradSparsifyLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  if (top[0] == bottom[0]) return;
  blas(mode).copy(bottom[0]->count(), bottom[0]->data_on(mode), top[0]->mutable_data_on(mode));
}

void GradSparsifyLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const long long count = top[0]->count();
  const float* gradient = top[0]->diff_on(mode);
  float* out = bottom[0]->mutable_diff_on(mode);
  if (phase_ != TRAIN) {
    if (top[0] != bottom[0]) blas(mode).copy(static_cast<int>(count), gradient, out);
    return;
  }
  if (count == 0) return;
  block_sum_buffer(count, &partials_);
  const double magnitude_sum = block_sum(mode, count, GradientMagnitude{gradient}, partials_.get());
  if (!std::isfinite(magnitude_sum)) {
    fail("the incoming gradient (", count, " values) holds ",
         std::isnan(magnitude_sum) ? "a NaN" : "an Inf",
         ", so no threshold can be set; training diverged above this layer (try a lower base_lr "
         "or clip_gradients)");
  }
  // σ̂ = sqrt(π/2) · mean|g| estimates σ for zero-mean normal g (E|g| = σ · sqrt(2/π)).
  const double sigma = std::sqrt(M_PI / 2.0) * magnitude_sum / static_cast<double>(count);
  threshold_ = static_cast<float>(sigma * z_);
  const double nonzeros =
      block_sum(mode, count, SparsifyGradient{gradient, out, threshold_, step_key(), stochastic_},
                partials_.get(), kComputeMinChunk);
  density_ = nonzeros / static_cast<double>(count);
}

REGISTER_LAYER("GradSparsify", GradSparsifyLayer);

}  // namespace caffe
