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

// Measured by scripts/bench_grad_sparsify.py --parts conv --clock cpu --threads 1: one
// Convolution backward, oneDNN against the sparse kernels, at the layer shapes of the CIFAR
// AlexNet and ResNet-18 (batch 32) and densities 0.01 .. 0.5, as CPU time, because the shared
// 2-core machine's wall clock is mostly other processes (with two threads oneDNN's barriers wait
// for descheduled threads).  The density where both cost the same (interpolated):
//   AlexNet conv1 (3 channels, K = 27): 0.015; ResNet conv1: sparse loses even at 0.01 — too
//     few multiply-adds per non-zero to repay compressing dy and the layout copies;
//   1x1 projections over 64 / 128 / 256 channels: 0 / 0 / 0.07 (a 1x1 over 512 channels: 0.16);
//   3x3, K = C/G · 9 = 576 .. 1152 (ResNet stages 1-2, AlexNet conv2): 0.17 .. 0.28;
//   3x3, K >= 2304 (AlexNet conv3-5, ResNet stages 3-4): 0.20 .. 0.27;
//   InnerProduct (AlexNet fc6 4096 -> 2048, fc7 2048 -> 2048, 32 rows, against OpenBLAS): 0.10.
// The thresholds below sit under the lowest crossover of each class, so that the sparse path is
// picked only where it wins.  A depthwise convolution (C/G = 1) is not measured by the benchmark:
// its few multiply-adds per non-zero put it with the 3-channel first layers.  The GPU kernels have
// not been measured (no GPU on the development machine): there kAuto keeps the dense engine and
// kAlways runs them.
double sparse_backward_crossover(Mode mode, const ConvGeometry& g, bool /*wants_dx*/) {
  if (mode == Mode::GPU) return 0.0;
  if (g.in_h * g.in_w == 1 && g.out_h * g.out_w == 1) return 0.10;  // a fully connected product
  const int filter = g.group_col_rows();
  const bool pointwise = g.height.kernel * g.width.kernel == 1;
  if (g.in_channels / g.group < 16 || filter < (pointwise ? 512 : 256)) return 0.0;
  if (pointwise) return 0.13;
  return filter < 1024 ? 0.15 : 0.18;
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
  CHECK(order == WeightOrder::kConvolution ||
        (g.group == 1 && g.height.kernel == 1 && g.width.kernel == 1))
      << "input-major weights are a 1x1 ungrouped product's";
  geometry_ = g;
  order_ = order;
  shape_ = sparse_conv_shape(g, order);
  ComputeHostTables();
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

RowLayout SparseConvBackward::SampledRows(const RowLayout& rows) {
  RowLayout sample = rows;
  sample.rows = rows.rows / kSampleStride;
  sample.outer_stride = rows.outer_stride * kSampleStride;
  return sample;
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
  if (policy == SparseBackwardPolicy::kAuto) {
    if (crossover <= 0.0) return false;  // never pays
    // Where dy is clearly denser than the crossover (a BatchNorm's gradient), a sample decides:
    // counting it all costs a few percent of an iteration that the sparse path cannot repay.
    const RowLayout sample = SampledRows(rows);
    if (sample.rows > 0) {
      density_ = static_cast<double>(channel_rows_.Count(mode, sample, dy)) / sample.elements();
      if (density_ > kSampleMargin * crossover) return false;
    }
  }
  density_ = static_cast<double>(channel_rows_.Count(mode, rows, dy)) / rows.elements();
  if (policy == SparseBackwardPolicy::kAuto && density_ > crossover) return false;
  channel_rows_.Fill(mode, dy);
  if (wants_dx) {
    if (DeviceKernels(mode)) {
      position_rows_.Count(mode, PositionRows(), dy);
      position_rows_.Fill(mode, dy);
    } else {
      CompressByPositionOnHost();
    }
    position_rows_ready_ = true;
  }
  return true;
}

void SparseConvBackward::Backward(Mode mode, const float* x, const float* weights, float* dx,
                                  float* dweights, float* dbias) {
  CHECK(!dx || position_rows_ready_) << "SparseConvBackward: Prepare was told no dx is wanted";
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
             SparseWeightGradient{shape_, rows.offsets(mode), rows.indices(mode), rows.values(mode),
                                  x, dweights},
             kComputeMinChunk);
  }
  if (dbias) {
    for_each(mode, shape_.outputs,
             SparseBiasGradient{shape_, rows.offsets(mode), rows.values(mode), dbias},
             kComputeMinChunk);
  }
  if (dx) {
    const SparseRows& by_position = position_rows_;
    for_each(mode, geometry_.batch * geometry_.in_image(),
             SparseInputGradient{shape_, by_position.offsets(mode), by_position.indices(mode),
                                 by_position.values(mode), weights, dx},
             kComputeMinChunk);
  }
}

}  // namespace caffe
