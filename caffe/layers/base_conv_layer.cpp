#include "caffe/layers/base_conv_layer.hpp"

#include <sstream>

#include "caffe/core/filler.hpp"

namespace caffe {
namespace {

// Whether engine DEFAULT picks the library on each device.  The GPU follows BVLC (cuDNN).  The
// CPU choice was measured (scripts/bench_conv.py; forward + backward on the layer shapes of
// LeNet, cifar10_quick, ResNet-18 CIFAR and a depthwise 3x3): on one thread oneDNN took from as
// long as im2col + OpenBLAS (LeNet conv1, 1 input channel) to 2.5-8x less (5x5 and 3x3 layers)
// and 16x less (depthwise), for Convolution and Deconvolution alike, and it stayed ahead on two.
constexpr bool kLibraryPaysOnGpu = true;
constexpr bool kLibraryPaysOnCpu = true;

int index_of(Mode mode) { return mode == Mode::GPU ? 1 : 0; }

}  // namespace

Backend BaseConvolutionLayer::backend(Mode mode) const {
  return resolve_engine(spec_.engine, mode,
                        mode == Mode::GPU ? kLibraryPaysOnGpu : kLibraryPaysOnCpu, name());
}

void BaseConvolutionLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const ConvolutionParameter& param = layer_param_.convolution_param();
  const Blob& input = *bottom[0];
  channel_axis_ = input.CanonicalAxisIndex(param.axis());
  const int spatial_axes = input.num_axes() - channel_axis_ - 1;
  if (spatial_axes != 2) {
    fail("supports 2 spatial axes after the channel axis (N x C x H x W), but the input of shape ",
         input.shape_string(), " has ", spatial_axes, " after channel axis ", channel_axis_);
  }
  spec_ = read_conv_spec(param);
  channels_ = input.shape(channel_axis_);
  check_group(spec_.group, channels_, spec_.num_output);
  for (size_t i = 0; i < bottom.size(); ++i) {
    if (top[i] == bottom[i]) fail("cannot run in place; give top ", i, " its own name");
  }
  geometry_ = GeometryOf(input);

  if (!blobs_.empty()) {
    CheckLoadedBlobs();
    return;
  }
  blobs_.push_back(std::make_shared<Blob>(geometry_.weight_shape()));
  fill_blob(param.weight_filler(), blobs_[0].get(), filler_stream(name(), 0));
  if (spec_.bias_term) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{spec_.num_output}));
    fill_blob(param.bias_filler(), blobs_[1].get(), filler_stream(name(), 1));
  }
}

void BaseConvolutionLayer::CheckLoadedBlobs() const {
  const size_t expected = spec_.bias_term ? 2 : 1;
  if (blobs_.size() != expected) {
    fail("the model gives ", blobs_.size(), " parameter blob(s), but the layer has ", expected,
         spec_.bias_term ? " (weights and bias)" : " (weights only: bias_term is false)");
  }
  std::ostringstream why;
  why << "num_output " << spec_.num_output << ", " << channels_ << " input channels, group "
      << spec_.group << " and a " << spec_.height.kernel << "x" << spec_.width.kernel << " kernel";
  check_loaded_param_shape(blobs_[0].get(), geometry_.weight_shape(), "blob 0 (weights)",
                           why.str());
  if (spec_.bias_term) {
    check_loaded_param_shape(blobs_[1].get(), {spec_.num_output}, "blob 1 (bias)",
                             "num_output " + std::to_string(spec_.num_output));
  }
}

ConvGeometry BaseConvolutionLayer::GeometryOf(const Blob& bottom) const {
  const int axis = channel_axis_;
  return GeometryFor(bottom.count(0, axis), bottom.shape(axis), bottom.shape(axis + 1),
                     bottom.shape(axis + 2));
}

void BaseConvolutionLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& input = *bottom[0];
  if (input.num_axes() != channel_axis_ + 3) {
    fail("the input of shape ", input.shape_string(), " has ", input.num_axes(),
         " axes; the layer was set up for ", channel_axis_ + 3,
         " (channel axis and 2 spatial axes)");
  }
  if (input.shape(channel_axis_) != channels_) {
    fail("the input of shape ", input.shape_string(), " has ", input.shape(channel_axis_),
         " channels, but the weights were set up for ", channels_);
  }
  for (size_t i = 1; i < bottom.size(); ++i) {
    if (bottom[i]->shape() != input.shape()) {
      fail("bottom ", i, " has shape ", bottom[i]->shape_string(), ", but bottom 0 has ",
           input.shape_string(), "; all bottoms share the weights and need one shape");
    }
  }
  geometry_ = GeometryOf(input);
  std::vector<int> top_shape(input.shape().begin(), input.shape().begin() + channel_axis_);
  for (int size : TopImageShape(geometry_)) top_shape.push_back(size);
  for (Blob* output : top) output->Reshape(top_shape);
  if (geometry_.batch > 0) EngineFor(mode());
}

ConvEngine& BaseConvolutionLayer::EngineFor(Mode mode) {
  std::unique_ptr<ConvEngine>& engine = engines_[index_of(mode)];
  if (!engine) engine = make_conv_engine(backend(mode), mode);
  engine->Configure(geometry_);
  return *engine;
}

void BaseConvolutionLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  if (geometry_.batch == 0) return;
  ConvEngine& engine = EngineFor(mode);
  const float* weights = blobs_[0]->data_on(mode);
  const float* bias = spec_.bias_term ? blobs_[1]->data_on(mode) : nullptr;
  for (size_t i = 0; i < bottom.size(); ++i) {
    ForwardPair(mode, engine, bottom[i]->data_on(mode), weights, bias,
                top[i]->mutable_data_on(mode));
  }
}

void BaseConvolutionLayer::BackwardOn(Mode mode, const BlobVec& top,
                                      const std::vector<bool>& propagate_down,
                                      const BlobVec& bottom) {
  if (geometry_.batch == 0) return;
  ConvEngine& engine = EngineFor(mode);
  const float* weights = blobs_[0]->data_on(mode);
  float* dweights = param_propagate_down(0) ? blobs_[0]->mutable_diff_on(mode) : nullptr;
  float* dbias =
      spec_.bias_term && param_propagate_down(1) ? blobs_[1]->mutable_diff_on(mode) : nullptr;
  for (size_t i = 0; i < top.size(); ++i) {
    float* dx = propagate_down[i] ? bottom[i]->mutable_diff_on(mode) : nullptr;
    if (!dx && !dweights && !dbias) continue;
    BackwardPair(mode, engine, bottom[i]->data_on(mode), top[i]->diff_on(mode), weights, dx,
                 dweights, dbias);
  }
}

void BaseConvolutionLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void BaseConvolutionLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                        const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

}  // namespace caffe
