#pragma once

#include <cmath>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"
#include "caffe/util/fixed_weight_product.hpp"
#include "caffe/util/vector_math.hpp"

namespace caffe {

// The fused per-unit LSTM math, one functor per step for the grid form of for_each on either
// device: a "unit" is one (stream n, hidden k) pair; gate rows hold [i f o g] blocks of H values.
// The non-linearities are vector_math's, so that the host loop over k vectorises.
namespace lstm {

// One forward time step t over its N×H units.
struct ForwardStep {
  float* gates;             // [N, 4H] of step t: pre-activations in, activations out
  const float* prev_cell;   // [N, H] cont_t · c_{t−1}
  float* cell;              // [N, H] c_t
  float* hidden;            // [N, H] h_t (the top)
  const float* next_cont;   // [N] cont_{t+1}; ones after the last step
  float* next_prev_hidden;  // [N, H] receives next_cont · h_t
  float* next_prev_cell;    // [N, H] receives next_cont · c_t
  int H;

  CAFFE_HOST_DEVICE void operator()(int n, int k) const {
    float* gate = gates + 4LL * H * n;
    const int at = n * H + k;
    const float i = vector_sigmoid(gate[k]);
    const float f = vector_sigmoid(gate[H + k]);
    const float o = vector_sigmoid(gate[2 * H + k]);
    const float g = vector_tanh(gate[3 * H + k]);
    gate[k] = i;
    gate[H + k] = f;
    gate[2 * H + k] = o;
    gate[3 * H + k] = g;
    const float c = f * prev_cell[at] + i * g;
    const float h = o * vector_tanh(c);
    cell[at] = c;
    hidden[at] = h;
    const float keep = next_cont[n];
    next_prev_hidden[at] = keep * h;
    next_prev_cell[at] = keep * c;
  }
};

// One backward time step t: gate gradients from the gradient reaching h_t (from the top and,
// through the recurrence, from step t+1) and c_t (from step t+1).  No pointer is null, so that
// the host loop has no branch and vectorises.
struct BackwardStep {
  const float* gates;          // [N, 4H] activations of step t
  const float* prev_cell;      // [N, H] cont_t · c_{t−1}
  const float* cell;           // [N, H] c_t
  const float* top_diff;       // [N, H] dL/dh_t from the top
  const float* hidden_diff;    // [N, H] dL/d(next_cont · h_t) from step t+1 (or h_T's top)
  float* cell_diff;            // [N, H] in: dL/d(next_cont · c_t); out: dL/dc_t · f_t
  const float* next_cont;      // [N] cont_{t+1}; ones after the last step
  float* gates_diff;           // [N, 4H] out: gradient of the pre-activations
  int H;

  CAFFE_HOST_DEVICE void operator()(int n, int k) const {
    const float* gate = gates + 4LL * H * n;
    float* gate_diff = gates_diff + 4LL * H * n;
    const int at = n * H + k;
    const float keep = next_cont[n];
    const float i = gate[k];
    const float f = gate[H + k];
    const float o = gate[2 * H + k];
    const float g = gate[3 * H + k];
    const float tanh_c = vector_tanh(cell[at]);
    const float dh = top_diff[at] + keep * hidden_diff[at];
    const float dc = dh * o * (1.0f - tanh_c * tanh_c) + keep * cell_diff[at];
    gate_diff[k] = dc * g * i * (1.0f - i);
    gate_diff[H + k] = dc * prev_cell[at] * f * (1.0f - f);
    gate_diff[2 * H + k] = dh * tanh_c * o * (1.0f - o);
    gate_diff[3 * H + k] = dc * i * (1.0f - g * g);
    cell_diff[at] = dc * f;
  }
};

// dst[n, :] = scale[n] · src[n, :] over an [N, width] matrix (dst may be src).
struct ScaleRows {
  int width;
  const float* scale;
  const float* src;
  float* dst;
  CAFFE_HOST_DEVICE void operator()(int n, int j) const {
    const long long at = static_cast<long long>(n) * width + j;
    dst[at] = scale[n] * src[at];
  }
};

}  // namespace lstm

// LSTM (Caffe interface).  Bottoms: x [T, N, ...] time-major (D values per step and stream),
// cont [T, N], optional x_static [N, ...]; with recurrent_param.expose_hidden also h_0, c_0
// [1, N, H], and tops h_T, c_T after the top h [T, N, H].  With gates [i f o g] =
//   W_xc x_t + b_c + W_xc_static x_static + W_hc (cont_t · h_{t−1}),  i, f, o = σ, g = tanh:
//   c_t = f ⊙ (cont_t · c_{t−1}) + i ⊙ g,   h_t = o ⊙ tanh(c_t).
// Without expose_hidden, (h_T, c_T) of one forward call is h_0, c_0 of the next (truncated BPTT:
// no gradient crosses calls; cont = 0 resets); the state starts at zero, and again whenever the
// number of streams N changes.
class LSTMLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "LSTM"; }
  int MinBottomBlobs() const override { return expose_hidden() ? 4 : 2; }
  int MaxBottomBlobs() const override { return expose_hidden() ? 5 : 3; }
  int ExactNumTopBlobs() const override { return expose_hidden() ? 3 : 1; }
  bool AllowForceBackward(int bottom_index) const override { return bottom_index != 1; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif

  // The input projection over all T·N rows, the one part a subclass may replace (LSTMApproxDropout
  // computes it over the kept input columns only), on `mode`'s device:
  //   ProjectInput:  gates [rows, 4H] = x [rows, D] · W_xcᵀ  (overwritten);
  //   BackpropInput: dx [rows, D] = dgates · W_xc (overwritten) and dW_xc += dgatesᵀ · x;
  //                  either output may be null (not wanted).
  // Bias, static input, recurrence and BPTT stay in this class.  BackpropInput always follows the
  // ProjectInput of the same forward pass (same x and W_xc), so an override may reuse what that
  // call prepared; an override can fall back to these dense products.
  virtual void ProjectInput(Mode mode, int rows, const float* x, const float* weight, float* gates);
  virtual void BackpropInput(Mode mode, int rows, const float* gates_diff, const float* x,
                             const float* weight, float* x_diff, float* weight_diff);

  int input_size() const { return input_size_; }  // D
  int gate_width() const { return 4 * hidden_; }  // 4H

 private:
  bool expose_hidden() const { return layer_param_.recurrent_param().expose_hidden(); }
  // Bottom index of h_0 (c_0 follows; expose_hidden only) and param index of W_hc.
  int initial_hidden_bottom() const { return static_input_ ? 3 : 2; }
  int hidden_weight_index() const { return static_input_ ? 3 : 2; }
  void CheckLoadedBlobs(const std::vector<std::vector<int>>& shapes) const;

  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);
  // gates = x W_xcᵀ + b_c (+ x_static W_xc_staticᵀ, the same for every step).
  void ForwardInputTerms(Mode mode, const BlobVec& bottom);
  void BackwardInputTerms(Mode mode, const std::vector<bool>& propagate_down,
                          const BlobVec& bottom);

  int steps_ = 0;
  int streams_ = 0;
  int hidden_ = 0;
  int input_size_ = 0;
  bool static_input_ = false;
  int static_size_ = 0;  // D_s

  // Kept from forward for backward.
  Blob gates_;        // [T, N, 4H] gate activations i, f, o, g
  Blob cell_;         // [T, N, H] c_t
  Blob prev_hidden_;  // [T, N, H] cont_t · h_{t−1}: the recurrent GEMM's input
  Blob prev_cell_;    // [T, N, H] cont_t · c_{t−1}
  // The state carried to the next forward call (without expose_hidden).
  Blob carry_hidden_;  // [N, H]
  Blob carry_cell_;    // [N, H]
  // Backward scratch.
  Blob gates_diff_;      // [T, N, 4H]
  Blob hidden_diff_;     // [N, H] gradient flowing into h_{t−1} through W_hc
  Blob cell_diff_;       // [N, H] gradient flowing into c_{t−1}
  Blob static_product_;  // [N, 4H] x_static W_xc_staticᵀ (forward) / its gradient (backward)
  Blob ones_;            // [T·N] of 1: bias and broadcast products as GEMV/rank-1 GEMM
  // The per-step products with W_hc: gates_t += (cont_t · h_{t−1}) W_hcᵀ forward, and the
  // gradient reaching cont_t · h_{t−1}, dgates_t W_hc, backward; W_hc is packed once per pass.
  FixedWeightProduct forward_recurrence_;
  FixedWeightProduct backward_recurrence_;
  FixedWeightProduct hidden_weight_gradient_;  // the W_hc gradient, on the same kernels
};

}  // namespace caffe
