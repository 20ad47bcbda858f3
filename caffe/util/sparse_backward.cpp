#include "caffe/util/sparse_backward.hpp"

#include <glog/logging.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <string>

namespace caffe {

// ----- policy -----

namespace {
std::atomic<SparseBackwardPolicy>& policy_flag() {
  static std::atomic<SparseBackwardPolicy> policy([] {
    const char* value = std::getenv("CAFFE_NO_SPARSE_BACKWARD");
    const bool off = value != nullptr && !std::string(value).empty() && std::string(value) != "0";
    return off ? SparseBackwardPolicy::kNever : SparseBackwardPolicy::kAuto;
  }());
  return policy;
}
}  // namespace

SparseBackwardPolicy sparse_backward_policy() {
  return policy_flag().load(std::memory_order_relaxed);
}

void set_sparse_backward_policy(SparseBackwardPolicy policy) {
  policy_flag().store(policy, std::memory_order_relaxed);
}

double sparse_backward_crossover(Mode mode, const ConvGeometry& g, bool wants_dx) {
  (void)mode;
  (void)g;
  (void)wants_dx;
  return 0.3;
}

// ----- shape -----

SparseConvShape sparse_conv_shape(const ConvGeometry& g, WeightOrder order) {
  SparseConvShape s{};
  s.batch = g.batch;
  s.channels = g.in_channels;
  s.height = g.in_h;
  s.width = g.in_w;
  s.outputs = g.out_channels;
  s.out_height = g.out_h;
  s.out_width = g.out_w;
  s.groups = g.group;
  s.kernel_h = g.height.kernel;
  s.kernel_w = g.width.kernel;
  s.stride_h = g.height.stride;
  s.stride_w = g.width.stride;
  s.pad_h = g.height.pad;
  s.pad_w = g.width.pad;
  s.dilation_h = g.height.dilation;
  s.dilation_w = g.width.dilation;
  s.input_major_weights = order == WeightOrder::kInputMajor;
  return s;
}

ConvGeometry fully_connected_geometry(int rows, int inputs, int outputs) {
  ConvGeometry g;
  g.batch = rows;
  g.in_channels = inputs;
  g.in_h = g.in_w = 1;
  g.out_channels = outputs;
  g.out_h = g.out_w = 1;
  return g;
}

// ----- the pass -----

void SparseConvBackward::Configure(const ConvGeometry& g, WeightOrder order) {
  if (configured_ && g == geometry_ && order == order_) return;
  CHECK(order == WeightOrder::kConvolution || (g.group == 1 && g.height.kernel == 1 &&
                                               g.width.kernel == 1))
      << "input-major weights are a 1x1 ungrouped product's";
  geometry_ = g;
  order_ = order;
  shape_ = sparse_conv_shape(g, order);
  window_row_.resize(g.out_spatial());
  window_col_.resize(g.out_spatial());
  for (int p = 0; p < g.out_spatial(); ++p) {
    window_row_[p] = p / g.out_w * g.height.stride - g.height.pad;
    window_col_[p] = p % g.out_w * g.width.stride - g.width.pad;
  }
  configured_ = true;
}

RowLayout SparseConvBackward::ChannelRows() const {
  RowLayout rows;
  rows.rows = shape_.batch * shape_.outputs;
  rows.outer_stride = shape_.out_spatial();
  rows.length = shape_.out_spatial();
  return rows;
}

RowLayout SparseConvBackward::PositionRows() const {
  RowLayout rows;
  rows.rows = shape_.batch * shape_.groups * shape_.out_spatial();
  rows.inner_rows = shape_.out_spatial();
  rows.outer_stride = static_cast<long long>(shape_.group_outputs()) * shape_.out_spatial();
  rows.inner_stride = 1;
  rows.length = shape_.group_outputs();
  rows.step = shape_.out_spatial();
  return rows;
}

bool SparseConvBackward::Prepare(Mode mode, const float* dy, bool wants_dx) {
  CHECK(configured_) << "SparseConvBackward::Prepare before Configure";
  density_ = 1.0;
  position_rows_ready_ = false;
  const SparseBackwardPolicy policy = sparse_backward_policy();
  const RowLayout rows = ChannelRows();
  if (policy == SparseBackwardPolicy::kNever || rows.elements() == 0 ||
      rows.elements() >= INT_MAX) {
    return false;
  }
  const double crossover = sparse_backward_crossover(mode, geometry_, wants_dx);
  if (policy == SparseBackwardPolicy::kAuto && crossover <= 0.0) return false;  // never pays
  density_ = static_cast<double>(channel_rows_.Count(mode, rows, dy)) / rows.elements();
  if (policy == SparseBackwardPolicy::kAuto && density_ > crossover) return false;
  channel_rows_.Fill(mode, dy);
  if (wants_dx && DeviceKernels(mode)) {
    position_rows_.Count(mode, PositionRows(), dy);
    position_rows_.Fill(mode, dy);
    position_rows_ready_ = true;
  }
  return true;
}

void SparseConvBackward::Backward(Mode mode, const float* x, const float* weights, float* dx,
                                  float* dweights, float* dbias) {
  if (DeviceKernels(mode)) {
    BackwardOnDevice(mode, x, weights, dx, dweights, dbias);
  } else {
    BackwardOnHost(x, weights, dx, dweights, dbias);
  }
}

void SparseConvBackward::BackwardOnDevice(Mode mode, const float* x, const float* weights,
                                          float* dx, float* dweights, float* dbias) {
  const SparseRows& rows = channel_rows_;
  if (dweights) {
    for_each(mode, static_cast<long long>(shape_.outputs) * shape_.filter_size(),
             SparseWeightGradient{shape_, rows.offsets(mode), rows.indices(mode),
                                  rows.values(mode), x, dweights},
             kComputeMinChunk);
  }
  if (dbias) {
    for_each(mode, shape_.outputs,
             SparseBiasGradient{shape_, rows.offsets(mode), rows.values(mode), dbias},
             kComputeMinChunk);
  }
  if (dx) {
    CHECK(position_rows_ready_) << "SparseConvBackward: Prepare was told no dx would be asked";
    const SparseRows& by_position = position_rows_;
    for_each(mode, geometry_.batch * geometry_.in_image(),
             SparseInputGradient{shape_, by_position.offsets(mode), by_position.indices(mode),
                                 by_position.values(mode), weights, dx},
             kComputeMinChunk);
  }
}

}  // namespace caffe
