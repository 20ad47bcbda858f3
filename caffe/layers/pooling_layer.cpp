#include "caffe/layers/pooling_layer.hpp"

#include <algorithm>
#include <climits>
#include <tuple>

#include "caffe/core/layer_registry.hpp"
#include "caffe/layers/pooling_cudnn.hpp"
#include "caffe/layers/pooling_dnnl.hpp"
#include "caffe/util/parallel.hpp"

namespace caffe {

namespace {

// Whether engine DEFAULT picks the device's library.  CPU: oneDNN, measured forward + backward
// against our functors on one thread (ms, oneDNN / CAFFE): cifar10_quick's MAX 3x3/2 on
// 100x32x32x32 2.4 / 11.1, AVE 3x3/2 on 100x32x16x16 0.25 / 2.2 and 100x64x8x8 0.15 / 1.1;
// LeNet's MAX 2x2/2 on 64x20x24x24 0.37 / 1.1 and 64x50x8x8 0.11 / 0.31; ResNet-18's AVE 4x4 on
// 32x512x4x4 0.10 / 0.25.  (Our host backward is the faster one for MAX; the forward is where
// oneDNN's vector code wins.)  GPU: not measured on this project's machines yet; BVLC's choice
// stands, cuDNN for AVE and our kernels for MAX (BVLC kept MAX off cuDNN because its backward
// re-derives the argmax from a top that a later in-place layer may have changed; CudnnPooling
// keeps its own copy of the top, so engine: CUDNN is safe either way).
bool library_pays(Mode mode, PoolingParameter::PoolMethod method) {
  return mode == Mode::CPU || method == PoolingParameter::AVE;
}

// A pooling_param size as an int, refusing values no blob dimension could use.
int checked_size(uint32_t value, const char* field) {
  if (value > static_cast<uint32_t>(INT_MAX / 4)) fail(field, " ", value, " is out of range");
  return static_cast<int>(value);
}

// BVLC's output count along one axis, before the clipping rule.
int pooled_size(int in, int kernel, int stride, int pad, bool ceil) {
  const int span = in + 2 * pad - kernel;  // >= 0, checked by the caller
  return (ceil ? (span + stride - 1) / stride : span / stride) + 1;
}

const int* ints_on(SyncedMemory& memory, Mode mode) {
  return static_cast<const int*>(mode == Mode::GPU ? memory.gpu_data() : memory.cpu_data());
}

int* mutable_ints_on(SyncedMemory& memory, Mode mode) {
  return static_cast<int*>(mode == Mode::GPU ? memory.mutable_gpu_data()
                                             : memory.mutable_cpu_data());
}

// The host's backward (see pooling_layer.hpp), a host loop: one plane per call, each output adding
// its gradient into the inputs it pooled (MAX: its argmax; AVE: its window, divided evenly). Planes
// are split across threads, so no two threads write one input.
struct PoolScatter {
  PoolingGeometry g;
  bool max;
  const float* top_diff;
  const int* argmax;
  float* bottom_diff;

  void operator()(long long plane) const {
    const long long top_offset = plane * g.pooled_height * g.pooled_width;
    const float* dy = top_diff + top_offset;
    float* dx = bottom_diff + plane * g.height * g.width;
    std::fill(dx, dx + g.height * g.width, 0.0f);
    if (max) {
      const int* index = argmax + top_offset;
      for (int o = 0; o < g.pooled_height * g.pooled_width; ++o) {
        if (index[o] >= 0) dx[index[o]] += dy[o];
      }
      return;
    }
    for (int ph = 0; ph < g.pooled_height; ++ph) {
      const PoolSpan rows = pool_span(ph, g.kernel_h, g.stride_h, g.pad_h, g.height);
      for (int pw = 0; pw < g.pooled_width; ++pw) {
        const PoolSpan cols = pool_span(pw, g.kernel_w, g.stride_w, g.pad_w, g.width);
        const int divisor = ave_divisor(rows, cols);
        if (divisor == 0) continue;  // a window without input
        const float share = dy[ph * g.pooled_width + pw] / divisor;
        for (int h = rows.begin; h < rows.end; ++h) {
          for (int w = cols.begin; w < cols.end; ++w) dx[h * g.width + w] += share;
        }
      }
    }
  }
};

}  // namespace

bool PoolingGeometry::operator==(const PoolingGeometry& other) const {
  const auto fields = [](const PoolingGeometry& g) {
    return std::tie(g.num, g.channels, g.height, g.width, g.pooled_height, g.pooled_width,
                    g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.pad_h, g.pad_w);
  };
  return fields(*this) == fields(other);
}

PoolingLayer::PoolingLayer(const LayerParameter& param)
    : Layer(param), method_(param.pooling_param().pool()) {}

PoolingLayer::~PoolingLayer() = default;

void PoolingLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const PoolingParameter& param = layer_param_.pooling_param();
  if (method_ == PoolingParameter::STOCHASTIC) {
    fail("pool: STOCHASTIC pooling is not implemented (use MAX or AVE)");
  }
  global_ = param.global_pooling();
  ceil_ = param.round_mode() == PoolingParameter::CEIL;
  ReadKernel();
  ReadPadAndStride();
}

void PoolingLayer::ReadKernel() {
  const PoolingParameter& param = layer_param_.pooling_param();
  const bool has_h_or_w = param.has_kernel_h() || param.has_kernel_w();
  if (global_) {
    if (param.has_kernel_size() || has_h_or_w) {
      fail(
          "global_pooling takes the kernel from the input's height and width; do not set "
          "kernel_size, kernel_h or kernel_w");
    }
    return;  // the kernel is set at Reshape
  }
  if (param.has_kernel_size() == has_h_or_w) {
    fail("give the kernel as kernel_size or as kernel_h and kernel_w (one of the two)");
  }
  if (has_h_or_w && !(param.has_kernel_h() && param.has_kernel_w())) {
    fail("kernel_h and kernel_w go together (only ", param.has_kernel_h() ? "kernel_h" : "kernel_w",
         " is set)");
  }
  geometry_.kernel_h = checked_size(has_h_or_w ? param.kernel_h() : param.kernel_size(), "kernel");
  geometry_.kernel_w = checked_size(has_h_or_w ? param.kernel_w() : param.kernel_size(), "kernel");
  if (geometry_.kernel_h == 0 || geometry_.kernel_w == 0) {
    fail("the kernel must be at least 1 x 1, got ", geometry_.kernel_h, " x ", geometry_.kernel_w);
  }
}

void PoolingLayer::ReadPadAndStride() {
  const PoolingParameter& param = layer_param_.pooling_param();
  const bool has_pad_h_or_w = param.has_pad_h() || param.has_pad_w();
  if (has_pad_h_or_w && (param.has_pad() || !(param.has_pad_h() && param.has_pad_w()))) {
    fail("give the padding as pad or as pad_h and pad_w (one of the two)");
  }
  const bool has_stride_h_or_w = param.has_stride_h() || param.has_stride_w();
  if (has_stride_h_or_w &&
      (param.has_stride() || !(param.has_stride_h() && param.has_stride_w()))) {
    fail("give the stride as stride or as stride_h and stride_w (one of the two)");
  }
  PoolingGeometry& g = geometry_;
  g.pad_h = checked_size(has_pad_h_or_w ? param.pad_h() : param.pad(), "pad");
  g.pad_w = checked_size(has_pad_h_or_w ? param.pad_w() : param.pad(), "pad");
  g.stride_h = checked_size(has_stride_h_or_w ? param.stride_h() : param.stride(), "stride");
  g.stride_w = checked_size(has_stride_h_or_w ? param.stride_w() : param.stride(), "stride");
  if (global_) {
    if (g.pad_h != 0 || g.pad_w != 0 || g.stride_h != 1 || g.stride_w != 1) {
      fail("global_pooling needs pad 0 and stride 1, got pad ", g.pad_h, " x ", g.pad_w,
           " and stride ", g.stride_h, " x ", g.stride_w);
    }
    return;
  }
  if (g.stride_h == 0 || g.stride_w == 0) {
    fail("the stride must be at least 1, got ", g.stride_h, " x ", g.stride_w);
  }
  if (g.pad_h >= g.kernel_h || g.pad_w >= g.kernel_w) {
    fail("pad ", g.pad_h, " x ", g.pad_w, " must be smaller than the kernel ", g.kernel_h, " x ",
         g.kernel_w);
  }
}

PoolingGeometry PoolingLayer::GeometryFor(const Blob& bottom) const {
  if (bottom.num_axes() != 4) {
    fail("the bottom must have 4 axes (num, channels, height, width), got shape ",
         bottom.shape_string());
  }
  PoolingGeometry g = geometry_;
  g.num = bottom.shape(0);
  g.channels = bottom.shape(1);
  g.height = bottom.shape(2);
  g.width = bottom.shape(3);
  if (global_) {
    if (g.height == 0 || g.width == 0)
      fail("global_pooling over empty planes, ", g.height, " x ", g.width);
    g.kernel_h = g.height;
    g.kernel_w = g.width;
  }
  const int padded_h = g.height + 2 * g.pad_h, padded_w = g.width + 2 * g.pad_w;
  if (g.kernel_h > padded_h || g.kernel_w > padded_w) {
    fail("the kernel ", g.kernel_h, " x ", g.kernel_w, " is larger than the padded input ",
         padded_h, " x ", padded_w, " (", g.height, " x ", g.width, " with pad ", g.pad_h, " x ",
         g.pad_w, ")");
  }
  g.pooled_height = pooled_size(g.height, g.kernel_h, g.stride_h, g.pad_h, ceil_);
  g.pooled_width = pooled_size(g.width, g.kernel_w, g.stride_w, g.pad_w, ceil_);
  // BVLC's clipping rule: with padding, a last window that would start in the bottom / right
  // padding (at or beyond in + pad in padded coordinates) is dropped.  It looks at both axes
  // when either has padding.
  if (g.pad_h > 0 || g.pad_w > 0) {
    if ((g.pooled_height - 1) * g.stride_h >= g.height + g.pad_h) --g.pooled_height;
    if ((g.pooled_width - 1) * g.stride_w >= g.width + g.pad_w) --g.pooled_width;
  }
  return g;
}

void PoolingLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  for (const Blob* out : top) {
    if (out == bottom[0]) fail("the top must not be the bottom (Pooling does not run in place)");
  }
  const PoolingGeometry g = GeometryFor(*bottom[0]);
  if (g != geometry_) {
    geometry_ = g;
    forward_backend_.reset();
  }
  for (Blob* out : top) out->Reshape({g.num, g.channels, g.pooled_height, g.pooled_width});
  if (top.size() > 1 && static_cast<long long>(g.height) * g.width > (1 << 24)) {
    fail(
        "the mask top holds indices as float, exact up to 2^24 inputs per plane; the bottom's "
        "planes are ",
        g.height, " x ", g.width);
  }
  if (method_ == PoolingParameter::MAX) {
    const size_t bytes = static_cast<size_t>(top[0]->count()) * sizeof(int);
    if (!argmax_ || argmax_->size() != bytes) argmax_ = std::make_unique<SyncedMemory>(bytes);
  }
  const Mode mode = caffe::mode();
  backends_[mode == Mode::GPU] = ChooseBackend(mode, static_cast<int>(top.size()));
  PrepareLibrary(backend(mode));
}

Backend PoolingLayer::ChooseBackend(Mode mode, int tops) const {
  const Backend wanted = resolve_engine(layer_param_.pooling_param().engine(), mode,
                                        library_pays(mode, method_), name());
  // The libraries do not give the mask top in BVLC's format, and an empty batch needs none.
  if (wanted == Backend::kCaffe || tops > 1 || geometry_.planes() == 0) return Backend::kCaffe;
    // Where a library cannot reproduce BVLC's result for this configuration, CAFFE runs instead
    // (as BVLC did for cuDNN); Supports() says when.
#ifdef CAFFE_USE_DNNL
  if (wanted == Backend::kDnnl && DnnlPooling::Supports(geometry_, method_)) return wanted;
#endif
#ifdef CAFFE_USE_CUDNN
  if (wanted == Backend::kCudnn && CudnnPooling::Supports(geometry_)) return wanted;
#endif
  return Backend::kCaffe;
}

void PoolingLayer::PrepareLibrary(Backend backend) {
#ifdef CAFFE_USE_DNNL
  if (backend == Backend::kDnnl && (!dnnl_ || dnnl_->geometry() != geometry_)) {
    dnnl_ = std::make_unique<DnnlPooling>(geometry_, method_);
  }
#endif
#ifdef CAFFE_USE_CUDNN
  if (backend == Backend::kCudnn && (!cudnn_ || cudnn_->geometry() != geometry_)) {
    cudnn_ = std::make_unique<CudnnPooling>(geometry_, method_);
  }
#endif
  (void)backend;
}

int* PoolingLayer::argmax_on(Mode mode) { return mutable_ints_on(*argmax_, mode); }

void PoolingLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const PoolingGeometry& g = geometry_;
  const int rows = g.planes() * g.pooled_height;
  const float* in = bottom[0]->data_on(mode);
  float* out = top[0]->mutable_data_on(mode);
  if (method_ == PoolingParameter::MAX) {
    int* argmax = argmax_on(mode);
    for_each(mode, rows, g.pooled_width, MaxPoolForward{g, in, out, argmax}, kComputeMinChunk);
    if (top.size() > 1) {
      for_each(mode, top[1]->count(), MaskAsFloat{argmax, top[1]->mutable_data_on(mode)});
    }
  } else {
    for_each(mode, rows, g.pooled_width, AvePoolForward{g, in, out}, kComputeMinChunk);
  }
  forward_backend_ = Backend::kCaffe;
}

void PoolingLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const PoolingGeometry& g = geometry_;
  const bool max = method_ == PoolingParameter::MAX;
  const float* top_diff = top[0]->diff_on(mode);
  const int* argmax = max ? ints_on(*argmax_, mode) : nullptr;
  float* bottom_diff = bottom[0]->mutable_diff_on(mode);
  if (mode == Mode::CPU) {
    const PoolScatter scatter{g, max, top_diff, argmax, bottom_diff};
    const long long plane_size = std::max(1LL, static_cast<long long>(g.height) * g.width);
    parallel_for(g.planes(), std::max(1LL, kComputeMinChunk / plane_size),
                 [&scatter](long long begin, long long end) {
                   for (long long plane = begin; plane < end; ++plane) scatter(plane);
                 });
    return;
  }
  const int rows = g.planes() * g.height;
  if (max) {
    for_each(mode, rows, g.width, MaxPoolBackward{g, top_diff, argmax, bottom_diff});
  } else {
    for_each(mode, rows, g.width, AvePoolBackward{g, top_diff, bottom_diff});
  }
}

void PoolingLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
#ifdef CAFFE_USE_DNNL
  if (backend(Mode::CPU) == Backend::kDnnl) {
    dnnl_->Forward(bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
    forward_backend_ = Backend::kDnnl;
    return;
  }
#endif
  ForwardOn(Mode::CPU, bottom, top);
}

void PoolingLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  // MAX needs the forward's argmax; either needs the library state of the current shapes.
  check_forward_ran_on(backend(Mode::CPU), forward_backend_);
#ifdef CAFFE_USE_DNNL
  if (backend(Mode::CPU) == Backend::kDnnl) {
    dnnl_->Backward(top[0]->cpu_diff(), bottom[0]->mutable_cpu_diff());
    return;
  }
#endif
  BackwardOn(Mode::CPU, top, bottom);
}

#ifdef CAFFE_USE_CUDA
void PoolingLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
#ifdef CAFFE_USE_CUDNN
  if (backend(Mode::GPU) == Backend::kCudnn) {
    cudnn_->Forward(bottom[0]->gpu_data(), top[0]->mutable_gpu_data());
    forward_backend_ = Backend::kCudnn;
    return;
  }
#endif
  ForwardOn(Mode::GPU, bottom, top);
}

void PoolingLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  // MAX needs the forward's argmax; either needs the library state of the current shapes.
  check_forward_ran_on(backend(Mode::GPU), forward_backend_);
#ifdef CAFFE_USE_CUDNN
  if (backend(Mode::GPU) == Backend::kCudnn) {
    cudnn_->Backward(bottom[0]->gpu_data(), top[0]->gpu_data(), top[0]->gpu_diff(),
                     bottom[0]->mutable_gpu_diff());
    return;
  }
#endif
  BackwardOn(Mode::GPU, top, bottom);
}
#endif  // CAFFE_USE_CUDA

REGISTER_LAYER("Pooling", PoolingLayer);

}  // namespace caffe
