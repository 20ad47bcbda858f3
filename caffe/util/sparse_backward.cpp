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

// Measured by scripts/bench_grad_sparsify.py --parts conv --clock cpu --threads 1 (one
// Convolution backward, oneDNN against the sparse kernels, at the layer shapes of the CIFAR
// AlexNet and ResNet-18, batch 32; the InnerProduct rows by the same comparison against OpenBLAS
// at AlexNet's fc6 / fc7).  CPU time, because the shared 2-core machine's wall clock is mostly
// scheduling noise.  Density where the two paths cost the same:
//   C/G < 16 or K < 256 (AlexNet / ResNet conv1 with 3 channels, depthwise, 1x1 over 64
//   channels): never, the sparse path loses even at 2%: its vector blocks are short and its
//   fixed cost (compressing dy, the layout copies) is not repaid;
//   3x3, K = 576 .. 1152 (ResNet stages 1-2, AlexNet conv2) and 1x1 over 512: 0.13 .. 0.27;
//   3x3, K >= 2304 (AlexNet conv3-5, ResNet stages 3-4): 0.22 .. 0.31;
//   fully connected 4096 -> 2048 and 2048 -> 2048 at 32 rows: 0.10 .. 0.11.
// The thresholds below are the lower ends, so that the sparse path is picked only where it wins.
// The GPU kernels have not been measured (no GPU on the development machine): there the policy
// kAuto keeps the dense engine, and kAlways runs them.
double sparse_backward_crossover(Mode mode, const ConvGeometry& g, bool /*wants_dx*/) {
  if (mode == Mode::GPU) return 0.0;
  const int group_channels = g.in_channels / g.group;
  const int filter = g.group_col_rows();
  if (g.in_h * g.in_w == 1 && g.out_h * g.out_w == 1) return 0.10;  // a fully connected product
  if (group_channels < 16 || filter < 256) return 0.0;
  return filter < 2048 ? 0.13 : 0.22;
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
    const SparseRows& by_position = position_rows_;
    for_each(mode, geometry_.batch * geometry_.in_image(),
             SparseInputGradient{shape_, by_position.offsets(mode), by_position.indices(mode),
                                 by_position.values(mode), weights, dx},
             kComputeMinChunk);
  }
}

}  // namespace caffe
