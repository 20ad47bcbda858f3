#include "layers/approx_dropout/lstm_approx_dropout_layer.hpp"

namespace caffe {

// The GPU path plans the same product as the CPU path and runs it on cuBLAS and the device
// gathers; the LSTM's recurrence stays on the device throughout.
void LSTMApproxDropoutLayer::ProjectInput_gpu(int rows, const float* x, const float* weight,
                                              float* gates) {
  if (!BeginMaskedForward()) {
    LSTMLayer::ProjectInput_gpu(rows, x, weight, gates);
    return;
  }
  product_.forward(approx_dropout::kGpuApproxOps, rows, x, weight, gates);
}

void LSTMApproxDropoutLayer::BackpropInput_gpu(int rows, const float* gates_diff, const float* x,
                                               const float* weight, float* x_diff,
                                               float* weight_diff) {
  if (!forward_drops()) {
    LSTMLayer::BackpropInput_gpu(rows, gates_diff, x, weight, x_diff, weight_diff);
    return;
  }
  product_.backward(approx_dropout::kGpuApproxOps, rows, gates_diff, x, weight, x_diff,
                    weight_diff);
}

}  // namespace caffe
