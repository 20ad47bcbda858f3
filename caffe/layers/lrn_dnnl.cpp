#include "caffe/layers/lrn_dnnl.hpp"

#ifdef CAFFE_USE_DNNL

#include <algorithm>

#include "caffe/util/dnnl_runtime.hpp"

namespace caffe {

DnnlLrn::DnnlLrn(const int shape[4], bool across, int local_size, float alpha, float beta,
                 float k) {
  std::copy(shape, shape + 4, shape_);
  const dnnl::memory::desc data = dnnl_runtime::nchw_desc(shape[0], shape[1], shape[2], shape[3]);
  const dnnl::algorithm algorithm =
      across ? dnnl::algorithm::lrn_across_channels : dnnl::algorithm::lrn_within_channel;
  const float offset = across ? k : 1.0f;  // BVLC's WITHIN_CHANNEL adds 1
  const dnnl::engine& engine = dnnl_runtime::cpu_engine();
  dnnl_runtime::build("LRN setup", [&] {
    const dnnl::lrn_forward::primitive_desc forward_pd(
        {dnnl::prop_kind::forward_training, algorithm, data, local_size, alpha, beta, offset},
        engine);
    const dnnl::lrn_backward::primitive_desc backward_pd(
        {algorithm, data, data, local_size, alpha, beta, offset}, engine, forward_pd);
    forward_ = dnnl::lrn_forward(forward_pd);
    backward_ = dnnl::lrn_backward(backward_pd);
    if (forward_pd.workspace_desc().get_size() > 0) {
      workspace_ = dnnl::memory(forward_pd.workspace_desc(), engine);
    }
  });
  bottom_ = dnnl_runtime::unbound_memory(data);
  top_ = dnnl_runtime::unbound_memory(data);
  bottom_diff_ = dnnl_runtime::unbound_memory(data);
  top_diff_ = dnnl_runtime::unbound_memory(data);
  forward_args_ = {{DNNL_ARG_SRC, bottom_}, {DNNL_ARG_DST, top_}};
  backward_args_ = {
      {DNNL_ARG_SRC, bottom_}, {DNNL_ARG_DIFF_DST, top_diff_}, {DNNL_ARG_DIFF_SRC, bottom_diff_}};
  if (workspace_) {
    forward_args_.emplace(DNNL_ARG_WORKSPACE, workspace_);
    backward_args_.emplace(DNNL_ARG_WORKSPACE, workspace_);
  }
}

bool DnnlLrn::Fits(const int shape[4]) const { return std::equal(shape, shape + 4, shape_); }

void DnnlLrn::Forward(const float* bottom, float* top) {
  bottom_.set_data_handle(const_cast<float*>(bottom));  // oneDNN only reads a source
  top_.set_data_handle(top);
  dnnl_runtime::execute("LRN forward", forward_, forward_args_);
}

void DnnlLrn::Backward(const float* bottom, const float* top_diff, float* bottom_diff) {
  bottom_.set_data_handle(const_cast<float*>(bottom));
  top_diff_.set_data_handle(const_cast<float*>(top_diff));
  bottom_diff_.set_data_handle(bottom_diff);
  dnnl_runtime::execute("LRN backward", backward_, backward_args_);
}

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
