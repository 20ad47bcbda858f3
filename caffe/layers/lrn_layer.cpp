#include "caffe/layers/lrn_layer.hpp"

#include <algorithm>

#include "caffe/core/layer_registry.hpp"
#include "caffe/layers/lrn_dnnl.hpp"

namespace caffe {

namespace {

// Whether engine DEFAULT picks the device's library.  CPU, measured against our functors on
// cifar10_full's WITHIN_CHANNEL (local_size 3, 100x32x16x16 and 100x32x8x8) and CaffeNet's
// ACROSS_CHANNELS LRNs (local_size 5, 32x96x55x55 and 32x256x27x27), one thread: oneDNN's
// forward is 4-6x faster across channels (13 vs 83 ms on norm1) and no faster within, but its
// backward on NCHW blobs is 10-25x slower (743 vs 74 ms).  So it pays only where no backward
// is expected: ACROSS_CHANNELS in TEST nets.  The GPU library (cuDNN) has no LRN engine here.
bool library_pays(Mode mode, Phase phase, bool across) {
  return mode == Mode::CPU && phase == TEST && across;
}

}  // namespace

LRNLayer::LRNLayer(const LayerParameter& param) : Layer(param) {}

LRNLayer::~LRNLayer() = default;

void LRNLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const LRNParameter& param = layer_param_.lrn_param();
  if (param.local_size() % 2 == 0) {
    fail("local_size must be odd (the window is centred), got ", param.local_size());
  }
  if (param.local_size() > (1u << 20)) fail("local_size ", param.local_size(), " is out of range");
  local_size_ = static_cast<int>(param.local_size());
  alpha_ = param.alpha();
  beta_ = param.beta();
  k_ = param.k();
  across_ = param.norm_region() == LRNParameter::ACROSS_CHANNELS;
}

void LRNLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  if (bottom[0]->num_axes() != 4) {
    fail("the bottom must have 4 axes (num, channels, height, width), got shape ",
         bottom[0]->shape_string());
  }
  if (top[0] == bottom[0]) fail("the top must not be the bottom (LRN does not run in place)");
  if (!std::equal(shape_, shape_ + 4, bottom[0]->shape().begin())) forward_backend_.reset();
  for (int axis = 0; axis < 4; ++axis) shape_[axis] = bottom[0]->shape(axis);
  top[0]->ReshapeLike(*bottom[0]);
  scale_.ReshapeLike(*bottom[0]);
  const Mode mode = caffe::mode();
  Backend backend = resolve_engine(layer_param_.lrn_param().engine(), mode,
                                   library_pays(mode, phase_, across_), name());
  // No cuDNN LRN engine: our kernels serve engine CUDNN on the GPU.  An empty batch needs none.
  if (backend == Backend::kCudnn || bottom[0]->count() == 0) backend = Backend::kCaffe;
  backends_[mode == Mode::GPU] = backend;
#ifdef CAFFE_USE_DNNL
  if (backend == Backend::kDnnl && (!dnnl_ || !dnnl_->Fits(shape_))) {
    dnnl_ = std::make_unique<DnnlLrn>(shape_, across_, local_size_, alpha_, beta_, k_);
  }
#endif
}

void LRNLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const LrnWindow window{shape_[1], shape_[2], shape_[3], (local_size_ - 1) / 2, across_};
  const float size = across_ ? local_size_ : static_cast<float>(local_size_) * local_size_;
  // BVLC's WITHIN_CHANNEL adds 1, not k (it is AVE pooling of x² followed by Power with shift 1).
  const float offset = across_ ? k_ : 1.0f;
  for_each(mode, window.rows(shape_[0]), window.cols(),
           LrnForward{window, offset, alpha_ / size, beta_, bottom[0]->data_on(mode),
                      scale_.mutable_data_on(mode), top[0]->mutable_data_on(mode)},
           kComputeMinChunk);
  forward_backend_ = Backend::kCaffe;
}

void LRNLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const LrnWindow window{shape_[1], shape_[2], shape_[3], (local_size_ - 1) / 2, across_};
  const float size = across_ ? local_size_ : static_cast<float>(local_size_) * local_size_;
  const float* top_diff = top[0]->diff_on(mode);
  const float* scale = scale_.data_on(mode);
  for_each(mode, top[0]->count(),
           LrnRatio{top_diff, top[0]->data_on(mode), scale, scale_.mutable_diff_on(mode)},
           kComputeMinChunk);
  for_each(mode, window.rows(shape_[0]), window.cols(),
           LrnBackward{window, beta_, 2.0f * beta_ * alpha_ / size, bottom[0]->data_on(mode),
                       top_diff, scale, scale_.diff_on(mode), bottom[0]->mutable_diff_on(mode)},
           kComputeMinChunk);
}

void LRNLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
#ifdef CAFFE_USE_DNNL
  if (backend(Mode::CPU) == Backend::kDnnl) {
    dnnl_->Forward(bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
    forward_backend_ = Backend::kDnnl;
    return;
  }
#endif
  ForwardOn(Mode::CPU, bottom, top);
}

void LRNLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                            const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  check_forward_ran_on(backend(Mode::CPU), forward_backend_);
#ifdef CAFFE_USE_DNNL
  if (backend(Mode::CPU) == Backend::kDnnl) {
    dnnl_->Backward(bottom[0]->cpu_data(), top[0]->cpu_diff(), bottom[0]->mutable_cpu_diff());
    return;
  }
#endif
  BackwardOn(Mode::CPU, top, bottom);
}

#ifdef CAFFE_USE_CUDA
void LRNLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void LRNLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                            const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  check_forward_ran_on(backend(Mode::GPU), forward_backend_);
  BackwardOn(Mode::GPU, top, bottom);
}
#endif

REGISTER_LAYER("LRN", LRNLayer);

}  // namespace caffe
