#include "caffe/layers/pooling_cudnn.hpp"

#ifdef CAFFE_USE_CUDNN

#include "caffe/util/device.hpp"

namespace caffe {

namespace {

int floor_pooled_size(int in, int kernel, int stride, int pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

}  // namespace

bool CudnnPooling::Supports(const PoolingGeometry& g) {
  // With the floor count, no window overhangs the padded input, so BVLC's AVE divisor is the
  // whole kernel (cuDNN's include-padding count) and every window holds an input.
  return g.pooled_height == floor_pooled_size(g.height, g.kernel_h, g.stride_h, g.pad_h) &&
         g.pooled_width == floor_pooled_size(g.width, g.kernel_w, g.stride_w, g.pad_w);
}

CudnnPooling::CudnnPooling(const PoolingGeometry& g, PoolingParameter::PoolMethod method)
    : geometry_(g), max_(method == PoolingParameter::MAX) {
  CUDNN_CALL(cudnnSetTensor4dDescriptor(bottom_desc_.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                        g.num, g.channels, g.height, g.width));
  CUDNN_CALL(cudnnSetTensor4dDescriptor(top_desc_.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.num,
                                        g.channels, g.pooled_height, g.pooled_width));
  const cudnnPoolingMode_t mode =
      max_ ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
  // NaN does not propagate: BVLC's strict > never picks one.
  CUDNN_CALL(cudnnSetPooling2dDescriptor(pooling_desc_.get(), mode, CUDNN_NOT_PROPAGATE_NAN,
                                         g.kernel_h, g.kernel_w, g.pad_h, g.pad_w, g.stride_h,
                                         g.stride_w));
  if (max_) saved_top_.Reshape({g.num, g.channels, g.pooled_height, g.pooled_width});
}

void CudnnPooling::Forward(const float* bottom, float* top) {
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CALL(cudnnPoolingForward(cudnn_runtime::handle(), pooling_desc_.get(), &one,
                                 bottom_desc_.get(), bottom, &zero, top_desc_.get(), top));
  if (max_) blas(Mode::GPU).copy(saved_top_.count(), top, saved_top_.mutable_gpu_data());
}

void CudnnPooling::Backward(const float* bottom, const float* top, const float* top_diff,
                            float* bottom_diff) {
  const float one = 1.0f, zero = 0.0f;
  const float* forward_top = max_ ? saved_top_.gpu_data() : top;
  CUDNN_CALL(cudnnPoolingBackward(cudnn_runtime::handle(), pooling_desc_.get(), &one,
                                  top_desc_.get(), forward_top, top_desc_.get(), top_diff,
                                  bottom_desc_.get(), bottom, &zero, bottom_desc_.get(),
                                  bottom_diff));
}

}  // namespace caffe

#endif  // CAFFE_USE_CUDNN
