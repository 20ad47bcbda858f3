#include "caffe/layers/pooling_dnnl.hpp"

#ifdef CAFFE_USE_DNNL

#include <algorithm>

#include "caffe/util/dnnl_runtime.hpp"

namespace caffe {

namespace {

// One axis of a pooling, as oneDNN is told about it.
struct Axis {
  int in, pooled, kernel, stride, pad;

  int last_start() const { return (pooled - 1) * stride - pad; }
  // A last window that holds no input (pad 0, stride > kernel, ceil mode): BVLC gives -FLT_MAX
  // (MAX) or 0 (AVE) there, which oneDNN does not promise.
  bool has_empty_window() const { return last_start() >= in; }
  // The ceil overhang: the last window reaches past the padded input [-pad, in + pad).
  bool overhangs() const { return last_start() + kernel > in + pad; }
  // oneDNN sizes the output as floor((in + pad_l + pad_r - kernel) / stride) + 1: the overhang
  // becomes extra padding on the right (none is needed when the floor already fits).
  int right_padding() const { return std::max(0, last_start() + kernel - in); }
};

Axis rows_of(const PoolingGeometry& g) {
  return {g.height, g.pooled_height, g.kernel_h, g.stride_h, g.pad_h};
}
Axis cols_of(const PoolingGeometry& g) {
  return {g.width, g.pooled_width, g.kernel_w, g.stride_w, g.pad_w};
}

// BVLC's AVE divides by the window clipped to the padded input.  oneDNN's include_padding
// divides by the whole kernel: the same unless a window overhangs the padded input.  Its
// exclude_padding divides by the window clipped to the input: the same when there is no
// padding.  (Supports() refuses padding together with an overhang, where neither matches.)
dnnl::algorithm ave_algorithm(const PoolingGeometry& g) {
  const bool overhang = rows_of(g).overhangs() || cols_of(g).overhangs();
  return overhang ? dnnl::algorithm::pooling_avg_exclude_padding
                  : dnnl::algorithm::pooling_avg_include_padding;
}

}  // namespace

bool DnnlPooling::Supports(const PoolingGeometry& g, PoolingParameter::PoolMethod method) {
  const Axis rows = rows_of(g), cols = cols_of(g);
  if (rows.has_empty_window() || cols.has_empty_window()) return false;
  if (method == PoolingParameter::MAX) return true;  // padding never wins, in either
  const bool padded = g.pad_h > 0 || g.pad_w > 0;
  return !(padded && (rows.overhangs() || cols.overhangs()));
}

DnnlPooling::DnnlPooling(const PoolingGeometry& g, PoolingParameter::PoolMethod method)
    : geometry_(g) {
  using dnnl::memory;
  const memory::desc bottom = dnnl_runtime::nchw_desc(g.num, g.channels, g.height, g.width);
  const memory::desc top =
      dnnl_runtime::nchw_desc(g.num, g.channels, g.pooled_height, g.pooled_width);
  const memory::dims strides = {g.stride_h, g.stride_w};
  const memory::dims kernel = {g.kernel_h, g.kernel_w};
  const memory::dims pad_left = {g.pad_h, g.pad_w};
  const memory::dims pad_right = {rows_of(g).right_padding(), cols_of(g).right_padding()};
  const dnnl::algorithm algorithm =
      method == PoolingParameter::MAX ? dnnl::algorithm::pooling_max : ave_algorithm(g);
  const dnnl::engine& engine = dnnl_runtime::cpu_engine();
  dnnl_runtime::build("pooling setup", [&] {
    // forward_training also for TEST nets: a backward pass may follow (force_backward).
    const dnnl::pooling_forward::primitive_desc forward_pd(
        {dnnl::prop_kind::forward_training, algorithm, bottom, top, strides, kernel, pad_left,
         pad_right},
        engine);
    const dnnl::pooling_backward::primitive_desc backward_pd(
        {algorithm, bottom, top, strides, kernel, pad_left, pad_right}, engine, forward_pd);
    forward_ = dnnl::pooling_forward(forward_pd);
    backward_ = dnnl::pooling_backward(backward_pd);
    if (forward_pd.workspace_desc().get_size() > 0) {
      workspace_ = memory(forward_pd.workspace_desc(), engine);
    }
  });
  bottom_ = dnnl_runtime::unbound_memory(bottom);
  top_ = dnnl_runtime::unbound_memory(top);
  bottom_diff_ = dnnl_runtime::unbound_memory(bottom);
  top_diff_ = dnnl_runtime::unbound_memory(top);
  forward_args_ = {{DNNL_ARG_SRC, bottom_}, {DNNL_ARG_DST, top_}};
  backward_args_ = {{DNNL_ARG_DIFF_DST, top_diff_}, {DNNL_ARG_DIFF_SRC, bottom_diff_}};
  if (workspace_) {
    forward_args_.emplace(DNNL_ARG_WORKSPACE, workspace_);
    backward_args_.emplace(DNNL_ARG_WORKSPACE, workspace_);
  }
}

void DnnlPooling::Forward(const float* bottom, float* top) {
  bottom_.set_data_handle(const_cast<float*>(bottom));  // oneDNN only reads a source
  top_.set_data_handle(top);
  dnnl_runtime::execute("pooling forward", forward_, forward_args_);
}

void DnnlPooling::Backward(const float* top_diff, float* bottom_diff) {
  top_diff_.set_data_handle(const_cast<float*>(top_diff));
  bottom_diff_.set_data_handle(bottom_diff);
  dnnl_runtime::execute("pooling backward", backward_, backward_args_);
}

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
