#include "caffe/layers/dropout_layer.hpp"

#include <glog/logging.h>

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"
#include "caffe/util/parallel.hpp"

namespace caffe {
namespace {

// Loops shorter than this run on one thread.
constexpr long long kMinChunk = 1 << 14;

// out_i = in_i · scale where kept_i, else 0.  A select, not a multiplication by the mask, so
// dropped units are 0 even where in_i is inf or NaN (as on the GPU).
void apply_mask(long long begin, long long end, const uint8_t* kept, float scale, const float* in,
                float* out) {
  for (long long i = begin; i < end; ++i) out[i] = kept[i] ? in[i] * scale : 0.0f;
}

}  // namespace

void DropoutLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  ratio_ = layer_param_.dropout_param().dropout_ratio();
  if (!(ratio_ >= 0.0f && ratio_ < 1.0f)) {
    fail("dropout_ratio must be in [0, 1), got ", ratio_);
  }
  scale_ = 1.0f / (1.0f - ratio_);
}

void DropoutLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  if (phase_ != TRAIN) {
    cpu_copy(count, bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
    return;
  }
  mask_key_ = step_key();
  kept_.resize(count);
  const uint32_t threshold = uniform_bits_threshold(ratio_);  // u_i >= p as an integer compare
  uint8_t* kept = kept_.data();
  const float* in = bottom[0]->cpu_data();
  float* out = top[0]->mutable_cpu_data();
  parallel_for(count, kMinChunk, [&](long long begin, long long end) {
    for (long long i = begin; i < end; ++i) {
      kept[i] = uniform_bits_at(mask_key_, static_cast<uint64_t>(i)) >= threshold;
    }
    apply_mask(begin, end, kept, scale_, in, out);
  });
}

void DropoutLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const int count = top[0]->count();
  if (phase_ != TRAIN) {
    cpu_copy(count, top[0]->cpu_diff(), bottom[0]->mutable_cpu_diff());
    return;
  }
  CHECK_EQ(kept_.size(), static_cast<size_t>(count)) << "Dropout Backward before its Forward";
  const float* top_diff = top[0]->cpu_diff();
  float* bottom_diff = bottom[0]->mutable_cpu_diff();
  parallel_for(count, kMinChunk, [&](long long begin, long long end) {
    apply_mask(begin, end, kept_.data(), scale_, top_diff, bottom_diff);
  });
}

REGISTER_LAYER("Dropout", DropoutLayer);

}  // namespace caffe
