#include "caffe/layers/conv_cudnn.hpp"

#ifdef CAFFE_USE_CUDNN

#include <glog/logging.h>

#include <algorithm>

namespace caffe {
namespace {

// The most workspace an algorithm may ask for; faster ones that need more are passed over.
constexpr size_t kWorkspaceLimit = size_t{512} << 20;

bool uses_tensor_cores(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The first (fastest by cuDNN's estimate) of the `count` results that runs in float arithmetic
// within the workspace limit; an error naming the pass when there is none.
template <typename Perf>
const Perf& first_usable(const Perf* results, int count, const char* pass) {
  for (int i = 0; i < count; ++i) {
    const Perf& result = results[i];
    if (result.status == CUDNN_STATUS_SUCCESS && result.memory <= kWorkspaceLimit &&
        !uses_tensor_cores(result.mathType)) {
      return result;
    }
  }
  fail("cuDNN has no ", pass, " algorithm for this convolution within ", kWorkspaceLimit >> 20,
       " MiB of workspace; use engine: CAFFE");
}

}  // namespace

void CudnnConvEngine::Prepare() {
  SetDescriptors();
  ChooseAlgorithms();
}

void CudnnConvEngine::SetDescriptors() {
  const ConvGeometry& g = geometry();
  CUDNN_CALL(cudnnSetTensor4dDescriptor(x_.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.batch,
                                        g.in_channels, g.in_h, g.in_w));
  CUDNN_CALL(cudnnSetTensor4dDescriptor(y_.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.batch,
                                        g.out_channels, g.out_h, g.out_w));
  CUDNN_CALL(cudnnSetTensor4dDescriptor(bias_.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                        g.out_channels, 1, 1));
  // With a group count, cuDNN's filter is [K, C/G, kh, kw]: BVLC's layout.
  CUDNN_CALL(cudnnSetFilter4dDescriptor(weights_.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                        g.out_channels, g.in_channels / g.group, g.height.kernel,
                                        g.width.kernel));
  CUDNN_CALL(cudnnSetConvolution2dDescriptor(
      convolution_.get(), g.height.pad, g.width.pad, g.height.stride, g.width.stride,
      g.height.dilation, g.width.dilation, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CUDNN_CALL(cudnnSetConvolutionGroupCount(convolution_.get(), g.group));
  CUDNN_CALL(cudnnSetConvolutionMathType(convolution_.get(), CUDNN_FMA_MATH));
  // cuDNN's output size rule is BVLC's (floor); a difference would be a bug in the geometry.
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CALL(cudnnGetConvolution2dForwardOutputDim(convolution_.get(), x_.get(), weights_.get(), &n,
                                                   &c, &h, &w));
  CHECK(n == g.batch && c == g.out_channels && h == g.out_h && w == g.out_w)
      << "cuDNN output " << n << "x" << c << "x" << h << "x" << w;
}

void CudnnConvEngine::ChooseAlgorithms() {
  cudnnHandle_t handle = cudnn_runtime::handle();
  int returned = 0;

  cudnnConvolutionFwdAlgoPerf_t forward[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  CUDNN_CALL(cudnnGetConvolutionForwardAlgorithm_v7(
      handle, x_.get(), weights_.get(), convolution_.get(), y_.get(),
      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, forward));
  const auto& forward_choice = first_usable(forward, returned, "forward");

  cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  CUDNN_CALL(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      handle, weights_.get(), y_.get(), convolution_.get(), x_.get(),
      CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, data));
  const auto& data_choice = first_usable(data, returned, "backward-data");

  cudnnConvolutionBwdFilterAlgoPerf_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  CUDNN_CALL(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      handle, x_.get(), y_.get(), convolution_.get(), weights_.get(),
      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, filter));
  const auto& filter_choice = first_usable(filter, returned, "backward-weights");

  forward_algorithm_ = forward_choice.algo;
  data_algorithm_ = data_choice.algo;
  filter_algorithm_ = filter_choice.algo;
  workspace_bytes_ = std::max({forward_choice.memory, data_choice.memory, filter_choice.memory});
  if (workspace_bytes_ > 0) {
    const int floats = static_cast<int>((workspace_bytes_ + sizeof(float) - 1) / sizeof(float));
    if (workspace_.count() < floats) workspace_.Reshape({floats});
  }
}

void* CudnnConvEngine::Workspace() {
  return workspace_bytes_ > 0 ? workspace_.mutable_gpu_data() : nullptr;
}

void CudnnConvEngine::Forward(const float* x, const float* weights, const float* bias, float* y) {
  CHECK_EQ(bias != nullptr, geometry().bias) << "the bias was planned at Prepare";
  cudnnHandle_t handle = cudnn_runtime::handle();
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CALL(cudnnConvolutionForward(handle, &one, x_.get(), x, weights_.get(), weights,
                                     convolution_.get(), forward_algorithm_, Workspace(),
                                     workspace_bytes_, &zero, y_.get(), y));
  if (bias) CUDNN_CALL(cudnnAddTensor(handle, &one, bias_.get(), bias, &one, y_.get(), y));
}

void CudnnConvEngine::BackwardData(const float* dy, const float* weights, float* dx) {
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CALL(cudnnConvolutionBackwardData(cudnn_runtime::handle(), &one, weights_.get(), weights,
                                          y_.get(), dy, convolution_.get(), data_algorithm_,
                                          Workspace(), workspace_bytes_, &zero, x_.get(), dx));
}

void CudnnConvEngine::BackwardWeights(const float* x, const float* dy, float* dweights,
                                      float* dbias) {
  cudnnHandle_t handle = cudnn_runtime::handle();
  const float one = 1.0f;  // beta 1: the gradients accumulate into the diffs
  if (dweights) {
    CUDNN_CALL(cudnnConvolutionBackwardFilter(handle, &one, x_.get(), x, y_.get(), dy,
                                              convolution_.get(), filter_algorithm_, Workspace(),
                                              workspace_bytes_, &one, weights_.get(), dweights));
  }
  if (dbias && geometry().bias) {
    CUDNN_CALL(cudnnConvolutionBackwardBias(handle, &one, y_.get(), dy, &one, bias_.get(), dbias));
  }
}

}  // namespace caffe

#endif  // CAFFE_USE_CUDNN
