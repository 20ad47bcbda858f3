#include "caffe/layers/lstm_layer.hpp"
#include "caffe/util/device_loop.cuh"

namespace caffe {
namespace lstm {
namespace {

void gpu_forward_step(const ForwardStep& step, int N) {
  const ForwardStep s = step;
  const int H = step.H;
  launch_elementwise(static_cast<long long>(N) * H, [=] __device__(long long unit) {
    s.unit(static_cast<int>(unit / H), static_cast<int>(unit % H));
  });
}

void gpu_backward_step(const BackwardStep& step, int N) {
  const BackwardStep s = step;
  const int H = step.H;
  launch_elementwise(static_cast<long long>(N) * H, [=] __device__(long long unit) {
    s.unit(static_cast<int>(unit / H), static_cast<int>(unit % H));
  });
}

void gpu_scale_rows(int N, int width, const float* scale, const float* src, float* dst) {
  launch_elementwise(static_cast<long long>(N) * width, [=] __device__(long long i) {
    dst[i] = scale[i / width] * src[i];
  });
}

}  // namespace

const Ops kGpuOps{true,
                  &gpu_gemm,
                  &gpu_gemv,
                  &gpu_set,
                  &gpu_copy,
                  &gpu_forward_step,
                  &gpu_backward_step,
                  &gpu_scale_rows,
                  &Blob::gpu_data,
                  &Blob::gpu_diff,
                  &Blob::mutable_gpu_data,
                  &Blob::mutable_gpu_diff};

}  // namespace lstm

void LSTMLayer::ProjectInput_gpu(int rows, const float* x, const float* weight, float* gates) {
  DenseProjectInput(lstm::kGpuOps, rows, x, weight, gates);
}

void LSTMLayer::BackpropInput_gpu(int rows, const float* gates_diff, const float* x,
                                  const float* weight, float* x_diff, float* weight_diff) {
  DenseBackpropInput(lstm::kGpuOps, rows, gates_diff, x, weight, x_diff, weight_diff);
}

void LSTMLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(lstm::kGpuOps, bottom, top);
}

void LSTMLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(lstm::kGpuOps, top, propagate_down, bottom);
}

}  // namespace caffe
