#include "caffe/layers/batch_norm_layer.hpp"

#include <glog/logging.h>

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/block_sum.hpp"

namespace caffe {

namespace {
constexpr int kStatisticBlobs = 3;  // μ_sum, σ²_sum, s
const char* const kStatisticNames[kStatisticBlobs] = {"mean", "variance", "scale factor"};
}  // namespace

void BatchNormLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& /*top*/) {
  const BatchNormParameter& param = layer_param_.batch_norm_param();
  use_global_stats_ = param.has_use_global_stats() ? param.use_global_stats() : phase_ == TEST;
  moving_average_fraction_ = param.moving_average_fraction();
  eps_ = param.eps();
  if (!(eps_ >= 0.0f)) fail("batch_norm_param.eps must be non-negative, got ", eps_);
  if (bottom[0]->num_axes() < 1) fail("needs an input with at least one axis, got a scalar");
  const int channels = bottom[0]->num_axes() > 1 ? bottom[0]->shape(1) : 1;
  const std::vector<std::vector<int>> shapes = {{channels}, {channels}, {1}};
  if (blobs_.empty()) {
    // The sums and s start at 0: global statistics before any update are then mean 0 and
    // variance 0, as the factor for s = 0 is 0.
    for (const std::vector<int>& shape : shapes) {
      blobs_.push_back(std::make_shared<Blob>(shape));
      blas(Mode::CPU).set(blobs_.back()->count(), 0.0f, blobs_.back()->mutable_cpu_data());
    }
  } else if (blobs_.size() != kStatisticBlobs) {
    fail("the model gives ", blobs_.size(), " blob(s), but BatchNorm has 3 (mean, variance, ",
         "scale factor)");
  } else {
    for (int j = 0; j < kStatisticBlobs; ++j) {
      if (blobs_[j]->count() != shapes[j][0]) {
        fail("the ", kStatisticNames[j], " blob from the model has shape ",
             blobs_[j]->shape_string(), ", but bottom 0 of shape ", bottom[0]->shape_string(),
             " needs ", shape_string(shapes[j]));
      }
      blobs_[j]->Reshape(shapes[j]);  // same count: accepts legacy 4-d shapes as they are
    }
  }
  FreezeStatistics();
}

void BatchNormLayer::FreezeStatistics() {
  // The statistics are running sums, not parameters: like BVLC Caffe, never let a solver update
  // them, whatever lr_mult the prototxt gives (the Net reads the specs after SetUp).
  for (int j = 0; j < kStatisticBlobs; ++j) {
    const bool given = j < layer_param_.param_size();  // a spec the prototxt wrote itself
    ParamSpec* spec = given ? layer_param_.mutable_param(j) : layer_param_.add_param();
    if (given && spec->lr_mult() != 0.0f) {
      LOG(WARNING) << context() << "the " << kStatisticNames[j] << " statistics are not learned; "
                   << "ignoring lr_mult " << spec->lr_mult();
    }
    spec->set_lr_mult(0.0f);
    spec->set_decay_mult(0.0f);
    set_param_propagate_down(j, false);
  }
}

void BatchNormLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& x = *bottom[0];
  if (x.num_axes() < 1) fail("needs an input with at least one axis, got a scalar");
  const int channels = x.num_axes() > 1 ? x.shape(1) : 1;
  if (channels != blobs_[0]->count()) {
    fail("bottom 0 of shape ", x.shape_string(), " has ", channels,
         " channels, but the statistics were set up for ", blobs_[0]->count());
  }
  split_ = AxisSplit{x.shape(0), channels, x.num_axes() > 2 ? x.count(2) : 1};
  if (top[0] != bottom[0]) top[0]->ReshapeLike(x);
  for (Blob* per_channel : {&mean_, &variance_, &inv_std_, &dy_mean_, &dy_y_mean_}) {
    per_channel->Reshape({channels});
  }
  if (!use_global_stats_) normalized_.ReshapeLike(x);
}

void BatchNormLayer::ComputeBatchStatistics(Mode mode, const float* x) {
  const float inverse_m = 1.0f / static_cast<float>(values_per_channel());
  float* mean = mean_.mutable_data_on(mode);
  float* variance = variance_.mutable_data_on(mode);
  sums_.Sum(mode, split_, ValueTerms{x}, {mean, inverse_m});
  // The variance from the centred values (not E[x²] − μ², which cancels badly for large μ).
  sums_.Sum(mode, split_, SquaredDeviationTerms{x, mean}, {variance, inverse_m});
  for_each(mode, channels(), InverseStd{variance, eps_, inv_std_.mutable_data_on(mode)});
}

void BatchNormLayer::UpdateStoredStatistics(Mode mode) {
  const int m = values_per_channel();
  const float correction = m > 1 ? static_cast<float>(m) / static_cast<float>(m - 1) : 1.0f;
  for_each(
      mode, channels(),
      MovingSums{moving_average_fraction_, correction, mean_.data_on(mode), variance_.data_on(mode),
                 blobs_[0]->mutable_data_on(mode), blobs_[1]->mutable_data_on(mode)});
  for_each(mode, 1, MovingScaleFactor{moving_average_fraction_, blobs_[2]->mutable_data_on(mode)});
}

void BatchNormLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  if (bottom[0]->count() == 0) return;  // an empty batch has no statistics to learn from
  const float* x = bottom[0]->data_on(mode);
  float* y = top[0]->mutable_data_on(mode);
  if (use_global_stats_) {
    for_each(mode, channels(),
             GlobalStatistics{blobs_[0]->data_on(mode), blobs_[1]->data_on(mode),
                              blobs_[2]->data_on(mode), eps_, mean_.mutable_data_on(mode),
                              inv_std_.mutable_data_on(mode)});
    for_each(mode, plane_count(split_), split_.inner,
             Normalize{split_, x, mean_.data_on(mode), inv_std_.data_on(mode), y, nullptr});
    return;
  }
  ComputeBatchStatistics(mode, x);
  UpdateStoredStatistics(mode);
  for_each(mode, plane_count(split_), split_.inner,
           Normalize{split_, x, mean_.data_on(mode), inv_std_.data_on(mode), y,
                     normalized_.mutable_data_on(mode)});
}

void BatchNormLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const int count = top[0]->count();
  if (count == 0) return;
  const float* dy = top[0]->diff_on(mode);
  float* dx = bottom[0]->mutable_diff_on(mode);
  const float* inv_std = inv_std_.data_on(mode);
  if (use_global_stats_) {
    // The statistics are constants here: dx = dy / sqrt(σ² + eps).
    for_each(mode, plane_count(split_), split_.inner,
             BroadcastAffine{split_, dy, inv_std, nullptr, dx});
    return;
  }
  const float inverse_m = 1.0f / static_cast<float>(values_per_channel());
  const float* y = normalized_.data_on(mode);
  sums_.Sum(mode, split_, ProductAndValueTerms{dy, y},
            {dy_y_mean_.mutable_data_on(mode), inverse_m},
            {dy_mean_.mutable_data_on(mode), inverse_m});
  const BatchNormInputGradient input_gradient{
      split_, y, dy, dy_mean_.data_on(mode), dy_y_mean_.data_on(mode), inv_std, dx};
  if (mode == Mode::CPU && bottom[0]->diff_abs_sum_requested()) {
    // A GradSparsify reads this gradient: Σ|dx| on the way saves it a pass (Blob's note).
    plane_magnitudes_.resize(grid_sum_groups(plane_count(split_), split_.inner));
    bottom[0]->note_diff_abs_sum(
        grid_sum_cpu(plane_count(split_), split_.inner, input_gradient, plane_magnitudes_.data()));
    return;
  }
  for_each(mode, plane_count(split_), split_.inner, input_gradient);
}

void BatchNormLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void BatchNormLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                  const BlobVec& bottom) {
  if (propagate_down[0]) BackwardOn(Mode::CPU, top, bottom);
}

REGISTER_LAYER("BatchNorm", BatchNormLayer);

}  // namespace caffe
