#include "caffe/layers/conv_engine.hpp"

#include <glog/logging.h>

#include "caffe/layers/conv_im2col.hpp"
#include "caffe/util/math_functions.hpp"
#ifdef CAFFE_USE_DNNL
#include "caffe/layers/conv_dnnl.hpp"
#endif
#ifdef CAFFE_USE_CUDNN
#include "caffe/layers/conv_cudnn.hpp"
#endif

namespace caffe {

void ConvEngine::Configure(const ConvGeometry& geometry) {
  if (configured_ && geometry == geometry_) return;
  geometry_ = geometry;
  configured_ = false;  // stays false if Prepare fails, so the next call tries again
  Prepare();
  configured_ = true;
}

void ConvEngine::Backward(const float* x, const float* dy, const float* weights, float* dx,
                          float* dweights, float* dbias) {
  if (dweights || dbias) BackwardWeights(x, dy, dweights, dbias);
  if (dx) BackwardData(dy, weights, dx);
}

std::unique_ptr<ConvEngine> make_conv_engine(Backend backend, Mode mode) {
#ifdef CAFFE_USE_DNNL
  if (backend == Backend::kDnnl) {
    CHECK(mode == Mode::CPU);
    return std::make_unique<DnnlConvEngine>();
  }
#endif
#ifdef CAFFE_USE_CUDNN
  if (backend == Backend::kCudnn) {
    CHECK(mode == Mode::GPU);
    return std::make_unique<CudnnConvEngine>();
  }
#endif
  CHECK(backend == Backend::kCaffe) << "no " << backend_name(backend) << " engine in this build";
  return std::make_unique<Im2colConvEngine>(mode);
}

void ChannelBias::Configure(int num, int channels, int spatial) {
  num_ = num;
  channels_ = channels;
  spatial_ = spatial;
  if (ones_.shape() != std::vector<int>{spatial}) {
    ones_.Reshape({spatial});
    cpu_set(spatial, 1.0f, ones_.mutable_cpu_data());
  }
}

void ChannelBias::Add(Mode mode, const float* bias, float* y) const {
  const Blas& math = blas(mode);
  const long long image = static_cast<long long>(channels_) * spatial_;
  for (int n = 0; n < num_; ++n) {
    // y_n [C, S] += bias [C, 1] · 1ᵀ [1, S].
    math.gemm(Trans::No, Trans::No, channels_, spatial_, 1, 1.0f, bias, ones_.data_on(mode), 1.0f,
              y + n * image);
  }
}

void ChannelBias::Backprop(Mode mode, const float* dy, float* dbias) const {
  const Blas& math = blas(mode);
  const long long image = static_cast<long long>(channels_) * spatial_;
  for (int n = 0; n < num_; ++n) {
    // dbias [C] += dy_n [C, S] · 1 [S].
    math.gemv(Trans::No, channels_, spatial_, 1.0f, dy + n * image, ones_.data_on(mode), 1.0f,
              dbias);
  }
}

}  // namespace caffe
