#include "caffe/layers/conv_dnnl.hpp"

#ifdef CAFFE_USE_DNNL

#include <glog/logging.h>

#include <unordered_map>

#include "caffe/util/dnnl_runtime.hpp"

namespace caffe {
namespace {

using dnnl::memory;
using Role = DnnlTensor::Role;

// The plain layouts of the blobs and the convolution's settings in oneDNN's terms.
struct DnnlShapes {
  memory::desc x, weights, bias, y;
  memory::desc any_x, any_weights, any_y;
  memory::dims strides, dilates, pad_l, pad_r;
};

DnnlShapes dnnl_shapes(const ConvGeometry& g) {
  const auto f32 = memory::data_type::f32;
  using tag = memory::format_tag;
  const memory::dims x_dims = {g.batch, g.in_channels, g.in_h, g.in_w};
  const memory::dims y_dims = {g.batch, g.out_channels, g.out_h, g.out_w};
  // BVLC's weights [M, C/G, kh, kw] are oneDNN's grouped [G, M/G, C/G, kh, kw] in goihw order.
  const memory::dims weight_dims =
      g.group == 1 ? memory::dims{g.out_channels, g.in_channels, g.height.kernel, g.width.kernel}
                   : memory::dims{g.group, g.out_channels / g.group, g.in_channels / g.group,
                                  g.height.kernel, g.width.kernel};
  DnnlShapes s;
  s.x = dnnl_runtime::nchw_desc(g.batch, g.in_channels, g.in_h, g.in_w);
  s.y = dnnl_runtime::nchw_desc(g.batch, g.out_channels, g.out_h, g.out_w);
  s.weights = memory::desc(weight_dims, f32, g.group == 1 ? tag::oihw : tag::goihw);
  s.bias = memory::desc({g.out_channels}, f32, tag::x);
  s.any_x = memory::desc(x_dims, f32, tag::any);
  s.any_y = memory::desc(y_dims, f32, tag::any);
  s.any_weights = memory::desc(weight_dims, f32, tag::any);
  s.strides = {g.height.stride, g.width.stride};
  s.dilates = {g.height.dilation - 1, g.width.dilation - 1};  // oneDNN counts the gaps
  s.pad_l = {g.height.pad, g.width.pad};
  // BVLC pads both sides alike and drops what the last stride does not reach (floor), which is
  // what oneDNN's size rule gives with the same padding on the right.
  s.pad_r = s.pad_l;
  return s;
}

}  // namespace

DnnlTensor::DnnlTensor(const memory::desc& plain, const memory::desc& chosen, Role role)
    : role_(role), separate_(role == Role::kAccumulate || plain != chosen) {
  plain_ = dnnl_runtime::unbound_memory(plain);
  if (!separate_) return;
  chosen_ = memory(chosen, dnnl_runtime::cpu_engine());
  if (role == Role::kInput) {
    reorder_ = dnnl::reorder(plain_, chosen_);
    return;
  }
  dnnl::primitive_attr attr;
  if (role == Role::kAccumulate) {
    dnnl::post_ops add_to_destination;
    add_to_destination.append_sum(1.0f);
    attr.set_post_ops(add_to_destination);
  }
  reorder_ = dnnl::reorder(chosen_, plain_, attr);
}

memory DnnlTensor::Bind(const float* data, const DnnlTensor* reordered) {
  // oneDNN takes non-const handles; inputs are only read.
  plain_.set_data_handle(const_cast<float*>(data));
  if (!separate_) return plain_;
  if (role_ == Role::kInput) {
    if (reordered && reordered->role_ == Role::kInput && reordered->separate_ &&
        reordered->reordered_from_ == data && reordered->chosen_.get_desc() == chosen_.get_desc()) {
      return reordered->chosen_;
    }
    dnnl_runtime::execute("convolution reorder", reorder_,
                          {{DNNL_ARG_FROM, plain_}, {DNNL_ARG_TO, chosen_}});
    reordered_from_ = data;
  }
  return chosen_;
}

void DnnlTensor::Commit() {
  if (separate_ && role_ != Role::kInput) {
    dnnl_runtime::execute("convolution reorder", reorder_,
                          {{DNNL_ARG_FROM, chosen_}, {DNNL_ARG_TO, plain_}});
  }
}

void DnnlConvEngine::Prepare() {
  const ConvGeometry& g = geometry();
  const DnnlShapes s = dnnl_shapes(g);
  const dnnl::engine& engine = dnnl_runtime::cpu_engine();
  const auto algorithm = dnnl::algorithm::convolution_direct;
  dnnl_runtime::build("convolution setup", [&] {
    const auto forward_desc =
        g.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm,
                                                 s.any_x, s.any_weights, s.bias, s.any_y, s.strides,
                                                 s.dilates, s.pad_l, s.pad_r)
               : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm,
                                                 s.any_x, s.any_weights, s.any_y, s.strides,
                                                 s.dilates, s.pad_l, s.pad_r);
    const dnnl::convolution_forward::primitive_desc forward_pd(forward_desc, engine);
    forward_ = dnnl::convolution_forward(forward_pd);
    forward_args_ = {
        DnnlTensor(s.x, forward_pd.src_desc(), Role::kInput),
        DnnlTensor(s.weights, forward_pd.weights_desc(), Role::kInput),
        g.bias ? DnnlTensor(s.bias, forward_pd.bias_desc(), Role::kInput) : DnnlTensor(),
        DnnlTensor(s.y, forward_pd.dst_desc(), Role::kOutput)};

    const dnnl::convolution_backward_data::primitive_desc data_pd(
        dnnl::convolution_backward_data::desc(algorithm, s.any_x, s.any_weights, s.any_y, s.strides,
                                              s.dilates, s.pad_l, s.pad_r),
        engine, forward_pd);
    backward_data_ = dnnl::convolution_backward_data(data_pd);
    data_args_ = {DnnlTensor(s.y, data_pd.diff_dst_desc(), Role::kInput),
                  DnnlTensor(s.weights, data_pd.weights_desc(), Role::kInput),
                  DnnlTensor(s.x, data_pd.diff_src_desc(), Role::kOutput)};

    const auto weights_desc =
        g.bias
            ? dnnl::convolution_backward_weights::desc(algorithm, s.any_x, s.any_weights, s.bias,
                                                       s.any_y, s.strides, s.dilates, s.pad_l,
                                                       s.pad_r)
            : dnnl::convolution_backward_weights::desc(algorithm, s.any_x, s.any_weights, s.any_y,
                                                       s.strides, s.dilates, s.pad_l, s.pad_r);
    const dnnl::convolution_backward_weights::primitive_desc weights_pd(weights_desc, engine,
                                                                        forward_pd);
    backward_weights_ = dnnl::convolution_backward_weights(weights_pd);
    weights_args_ = {
        DnnlTensor(s.x, weights_pd.src_desc(), Role::kInput),
        DnnlTensor(s.y, weights_pd.diff_dst_desc(), Role::kInput),
        DnnlTensor(s.weights, weights_pd.diff_weights_desc(), Role::kAccumulate),
        g.bias ? DnnlTensor(s.bias, weights_pd.diff_bias_desc(), Role::kAccumulate) : DnnlTensor()};
  });
  prepared_threads_ = blas_threads();
}

void DnnlConvEngine::FollowThreadCount() {
  if (blas_threads() != prepared_threads_) Prepare();
}

void DnnlConvEngine::Forward(const float* x, const float* weights, const float* bias, float* y) {
  CHECK_EQ(bias != nullptr, geometry().bias) << "the bias was planned at Prepare";
  FollowThreadCount();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, forward_args_.x.Bind(x)},
                                          {DNNL_ARG_WEIGHTS, forward_args_.weights.Bind(weights)},
                                          {DNNL_ARG_DST, forward_args_.y.Bind(y)}};
  if (bias) args[DNNL_ARG_BIAS] = forward_args_.bias.Bind(bias);
  dnnl_runtime::execute("convolution forward", forward_, args);
  forward_args_.y.Commit();
}

void DnnlConvEngine::BackwardData(const float* dy, const float* weights, float* dx) {
  FollowThreadCount();
  RunBackwardData(dy, weights, dx, nullptr);
}

void DnnlConvEngine::RunBackwardData(const float* dy, const float* weights, float* dx,
                                     const DnnlTensor* reordered_dy) {
  dnnl_runtime::execute("convolution backward-data", backward_data_,
                        {{DNNL_ARG_DIFF_DST, data_args_.dy.Bind(dy, reordered_dy)},
                         {DNNL_ARG_WEIGHTS, data_args_.weights.Bind(weights)},
                         {DNNL_ARG_DIFF_SRC, data_args_.dx.Bind(dx)}});
  data_args_.dx.Commit();
}

void DnnlConvEngine::BackwardWeights(const float* x, const float* dy, float* dweights,
                                     float* dbias) {
  // The primitive computes both gradients; an unwanted one stays in its accumulation buffer
  // (outputs that accumulate always have one), and only the wanted ones are added to the blobs.
  FollowThreadCount();
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, weights_args_.x.Bind(x)},
      {DNNL_ARG_DIFF_DST, weights_args_.dy.Bind(dy)},
      {DNNL_ARG_DIFF_WEIGHTS, weights_args_.dweights.Bind(dweights)}};
  if (geometry().bias) args[DNNL_ARG_DIFF_BIAS] = weights_args_.dbias.Bind(dbias);
  dnnl_runtime::execute("convolution backward-weights", backward_weights_, args);
  if (dweights) weights_args_.dweights.Commit();
  if (dbias && geometry().bias) weights_args_.dbias.Commit();
}

void DnnlConvEngine::Backward(const float* x, const float* dy, const float* weights, float* dx,
                              float* dweights, float* dbias) {
  FollowThreadCount();
  const bool weights_wanted = dweights || (dbias && geometry().bias);
  if (weights_wanted) BackwardWeights(x, dy, dweights, dbias);
  // Nothing ran between the two passes, so backward-weights' copy of dy is current.
  if (dx) RunBackwardData(dy, weights, dx, weights_wanted ? &weights_args_.dy : nullptr);
}

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
