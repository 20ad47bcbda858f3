#include "caffe/layers/channel_sums.hpp"

namespace caffe {
namespace {

// The most elements of a tile (one channel over a block of outer rows; at least one row): a
// channel of a large blob splits into several tiles, so that few channels still use every thread.
constexpr long long kTileElements = 1 << 14;

}  // namespace

const float* AxisReduction::Ones(Mode mode, int count) {
  if (ones_.count() < count) {
    ones_.Reshape({count});
    blas(Mode::CPU).set(count, 1.0f, ones_.mutable_cpu_data());
  }
  return ones_.data_on(mode);
}

void AxisReduction::Sum(Mode mode, const AxisSplit& split, const float* values, float alpha,
                        float beta, float* sums) {
  const Blas& math = blas(mode);
  const int dim = split.axis_dim;
  if (dim == 0) return;
  if (beta == 0.0f) math.set(dim, 0.0f, sums);  // a BLAS may scale what sums held (NaN) by 0
  if (split.outer == 0 || split.inner == 0) {
    math.scal(dim, beta, sums);
    return;
  }
  const float* over_inner = values;  // [outer, dim]
  if (split.inner > 1) {
    partial_.Reshape({split.outer * dim});
    float* partial = partial_.mutable_data_on(mode);
    math.gemv(Trans::No, split.outer * dim, split.inner, 1.0f, values, Ones(mode, split.inner),
              0.0f, partial);
    over_inner = partial;
  }
  math.gemv(Trans::Yes, split.outer, dim, alpha, over_inner, Ones(mode, split.outer), beta, sums);
}

ChannelSums::Tiling ChannelSums::TilingFor(const AxisSplit& split) {
  const long long inner = std::max(1, split.inner);
  const int outer = std::max(1, split.outer);
  const int rows = static_cast<int>(std::clamp<long long>(kTileElements / inner, 1, outer));
  return {rows, (outer + rows - 1) / rows};
}

void ChannelSums::StoreCpu(const AxisSplit& split, Tiling tiling, SumTarget first,
                           SumTarget second) const {
  const SumTarget targets[2] = {first, second};
  for (int which = 0; which < 2; ++which) {
    const SumTarget& target = targets[which];
    if (!target.sums) continue;
    for (int c = 0; c < split.axis_dim; ++c) {
      double sum = 0.0;
      for (int tile = 0; tile < tiling.tiles_per_channel; ++tile) {
        sum += partials_[2 * (static_cast<long long>(c) * tiling.tiles_per_channel + tile) + which];
      }
      const float scaled = static_cast<float>(target.alpha * sum);
      target.sums[c] = target.beta == 0.0f ? scaled : scaled + target.beta * target.sums[c];
    }
  }
}

}  // namespace caffe
