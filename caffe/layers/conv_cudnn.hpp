// The cuDNN engine of Convolution and Deconvolution (GPU).  At Prepare it sets the tensor,
// filter and convolution descriptors (cross-correlation, groups, FMA math so that float results
// match the CPU engines: TF32 tensor cores would round the inputs to 10 mantissa bits), picks
// each pass's algorithm with cuDNN's heuristics within a workspace limit and sizes one shared
// workspace; a pass then makes one cuDNN call (two with a bias).
#pragma once

#ifdef CAFFE_USE_CUDNN

#include "caffe/core/blob.hpp"
#include "caffe/layers/conv_engine.hpp"
#include "caffe/util/cudnn_runtime.hpp"

namespace caffe {

using CudnnFilterDescriptor =
    cudnn_runtime::Owned<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                         cudnnDestroyFilterDescriptor>;
using CudnnConvolutionDescriptor =
    cudnn_runtime::Owned<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                         cudnnDestroyConvolutionDescriptor>;

class CudnnConvEngine : public ConvEngine {
 public:
  void Forward(const float* x, const float* weights, const float* bias, float* y) override;
  void BackwardData(const float* dy, const float* weights, float* dx) override;
  void BackwardWeights(const float* x, const float* dy, float* dweights, float* dbias) override;

 protected:
  void Prepare() override;

 private:
  void SetDescriptors();
  void ChooseAlgorithms();
  void* Workspace();

  cudnn_runtime::TensorDescriptor x_, y_, bias_;
  CudnnFilterDescriptor weights_;
  CudnnConvolutionDescriptor convolution_;
  cudnnConvolutionFwdAlgo_t forward_algorithm_{};
  cudnnConvolutionBwdDataAlgo_t data_algorithm_{};
  cudnnConvolutionBwdFilterAlgo_t filter_algorithm_{};
  size_t workspace_bytes_ = 0;
  Blob workspace_;  // device memory for the largest of the three algorithms' needs
};

}  // namespace caffe

#endif  // CAFFE_USE_CUDNN
