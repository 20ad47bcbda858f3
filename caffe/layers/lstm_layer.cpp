#include "caffe/layers/lstm_layer.hpp"

#include <climits>
#include <string>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"

namespace caffe {
namespace lstm {
namespace {

void cpu_forward_step(const ForwardStep& step, int N) {
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < step.H; ++k) step.unit(n, k);
  }
}

void cpu_backward_step(const BackwardStep& step, int N) {
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < step.H; ++k) step.unit(n, k);
  }
}

void cpu_scale_rows(int N, int width, const float* scale, const float* src, float* dst) {
  for (int n = 0; n < N; ++n) {
    const float factor = scale[n];
    const long long row = static_cast<long long>(n) * width;
    for (int j = 0; j < width; ++j) dst[row + j] = factor * src[row + j];
  }
}

}  // namespace

const Ops kCpuOps{false,
                  &cpu_gemm,
                  &cpu_gemv,
                  &cpu_set,
                  &cpu_copy,
                  &cpu_forward_step,
                  &cpu_backward_step,
                  &cpu_scale_rows,
                  &Blob::cpu_data,
                  &Blob::cpu_diff,
                  &Blob::mutable_cpu_data,
                  &Blob::mutable_cpu_diff};

}  // namespace lstm

void LSTMLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const RecurrentParameter& param = layer_param_.recurrent_param();
  if (param.num_output() == 0 || param.num_output() > INT_MAX / 4) {
    fail("recurrent_param.num_output must be set to a positive number, got ", param.num_output());
  }
  if (top[0] == bottom[0]) fail("cannot run in place; give the top its own name");
  hidden_ = static_cast<int>(param.num_output());
  static_input_ = static_cast<int>(bottom.size()) == MaxBottomBlobs();
  const Blob& x = *bottom[0];
  if (x.num_axes() < 2) {
    fail("the input x (bottom 0) must be T x N x ... (time-major), got shape ", x.shape_string());
  }
  input_size_ = x.count(2);
  if (input_size_ == 0) fail("the input x of shape ", x.shape_string(), " has no values per step");
  if (static_input_) {
    const Blob& x_static = *bottom[2];
    if (x_static.num_axes() < 1 || x_static.count(1) == 0) {
      fail("the static input (bottom 2) must be N x ... with values per stream, got shape ",
           x_static.shape_string());
    }
    static_size_ = x_static.count(1);
  }

  const int G = gate_width();
  std::vector<std::vector<int>> shapes{{G, input_size_}, {G}};
  if (static_input_) shapes.push_back({G, static_size_});
  shapes.push_back({G, hidden_});
  if (!blobs_.empty()) {
    CheckLoadedBlobs(shapes);
    return;
  }
  for (size_t j = 0; j < shapes.size(); ++j) {
    blobs_.push_back(std::make_shared<Blob>(shapes[j]));
    const FillerParameter& filler = j == 1 ? param.bias_filler() : param.weight_filler();
    fill_blob(filler, blobs_[j].get(), filler_stream(name(), static_cast<int>(j)));
  }
}

void LSTMLayer::CheckLoadedBlobs(const std::vector<std::vector<int>>& shapes) const {
  const char* names = static_input_ ? "W_xc, b_c, W_xc_static, W_hc" : "W_xc, b_c, W_hc";
  if (blobs_.size() != shapes.size()) {
    fail("the model gives ", blobs_.size(), " parameter blob(s), but the layer has ",
         shapes.size(), " (", names, ")");
  }
  for (size_t j = 0; j < shapes.size(); ++j) {
    if (blobs_[j]->shape() != shapes[j]) {
      fail("parameter blob ", j, " from the model has shape ", blobs_[j]->shape_string(),
           ", expected ", shape_string(shapes[j]), " (the blobs are ", names, ")");
    }
  }
}

void LSTMLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& x = *bottom[0];
  if (x.num_axes() < 2 || x.count(2) != input_size_) {
    fail("the input x (bottom 0) must be T x N x ... with ", input_size_,
         " values per step (as the weights were set up), got shape ", x.shape_string());
  }
  const int T = x.shape(0);
  const int N = x.shape(1);
  if (T == 0 || N == 0) fail("the input x needs at least one step and one stream, got shape ",
                             x.shape_string());
  if (bottom[1]->shape() != std::vector<int>{T, N}) {
    fail("cont (bottom 1) must be T x N = ", shape_string({T, N}), " like the first two axes of x, ",
         "got shape ", bottom[1]->shape_string());
  }
  if (static_input_) {
    const Blob& x_static = *bottom[2];
    if (x_static.num_axes() < 1 || x_static.shape(0) != N || x_static.count(1) != static_size_) {
      fail("the static input (bottom 2) must be N x ... = ", N, " streams with ", static_size_,
           " values each, got shape ", x_static.shape_string());
    }
  }
  const std::vector<int> state_shape{1, N, hidden_};
  if (expose_hidden()) {
    const int first = initial_hidden_bottom();
    for (int b = first; b < first + 2; ++b) {
      if (bottom[b]->shape() != state_shape) {
        fail(b == first ? "h_0" : "c_0", " (bottom ", b, ") must be 1 x N x H = ",
             shape_string(state_shape), ", got shape ", bottom[b]->shape_string());
      }
    }
    top[1]->Reshape(state_shape);
    top[2]->Reshape(state_shape);
  } else if (carry_hidden_.shape() != std::vector<int>{N, hidden_}) {
    // First call, or the number of streams changed: the state starts from zero.
    carry_hidden_.Reshape({N, hidden_});
    carry_cell_.Reshape({N, hidden_});
    cpu_set(carry_hidden_.count(), 0.0f, carry_hidden_.mutable_cpu_data());
    cpu_set(carry_cell_.count(), 0.0f, carry_cell_.mutable_cpu_data());
  }
  steps_ = T;
  streams_ = N;
  const int G = gate_width();
  top[0]->Reshape({T, N, hidden_});
  gates_.Reshape({T, N, G});
  cell_.Reshape({T, N, hidden_});
  prev_hidden_.Reshape({T, N, hidden_});
  prev_cell_.Reshape({T, N, hidden_});
  hidden_diff_.Reshape({N, hidden_});
  cell_diff_.Reshape({N, hidden_});
  if (static_input_) static_product_.Reshape({N, G});
  if (ones_.count() != T * N) {
    ones_.Reshape({T * N});
    cpu_set(ones_.count(), 1.0f, ones_.mutable_cpu_data());
  }
}

void LSTMLayer::ProjectInput(const lstm::Ops& ops, const float* x, float* gates) {
  const float* weight = (blobs_[0].get()->*ops.data)();
  const int rows = steps_ * streams_;
#ifdef CAFFE_USE_CUDA
  if (ops.gpu) {
    ProjectInput_gpu(rows, x, weight, gates);
    return;
  }
#endif
  ProjectInput_cpu(rows, x, weight, gates);
}

void LSTMLayer::BackpropInput(const lstm::Ops& ops, const float* gates_diff, const float* x,
                              float* x_diff, float* weight_diff) {
  const float* weight = (blobs_[0].get()->*ops.data)();
  const int rows = steps_ * streams_;
#ifdef CAFFE_USE_CUDA
  if (ops.gpu) {
    BackpropInput_gpu(rows, gates_diff, x, weight, x_diff, weight_diff);
    return;
  }
#endif
  BackpropInput_cpu(rows, gates_diff, x, weight, x_diff, weight_diff);
}

void LSTMLayer::DenseProjectInput(const lstm::Ops& ops, int rows, const float* x,
                                  const float* weight, float* gates) const {
  ops.gemm(Trans::No, Trans::Yes, rows, gate_width(), input_size_, 1.0f, x, weight, 0.0f,
           gates);
}

void LSTMLayer::DenseBackpropInput(const lstm::Ops& ops, int rows, const float* gates_diff,
                                   const float* x, const float* weight, float* x_diff,
                                   float* weight_diff) const {
  const int G = gate_width();
  if (weight_diff) {
    ops.gemm(Trans::Yes, Trans::No, G, input_size_, rows, 1.0f, gates_diff, x, 1.0f, weight_diff);
  }
  if (x_diff) {
    ops.gemm(Trans::No, Trans::No, rows, input_size_, G, 1.0f, gates_diff, weight, 0.0f, x_diff);
  }
}

void LSTMLayer::ProjectInput_cpu(int rows, const float* x, const float* weight, float* gates) {
  DenseProjectInput(lstm::kCpuOps, rows, x, weight, gates);
}

void LSTMLayer::BackpropInput_cpu(int rows, const float* gates_diff, const float* x,
                                  const float* weight, float* x_diff, float* weight_diff) {
  DenseBackpropInput(lstm::kCpuOps, rows, gates_diff, x, weight, x_diff, weight_diff);
}

void LSTMLayer::ForwardInputTerms(const lstm::Ops& ops, const BlobVec& bottom) {
  const int T = steps_, N = streams_, G = gate_width();
  float* gates = (gates_.*ops.mutable_data)();
  const float* ones = (ones_.*ops.data)();
  ProjectInput(ops, (bottom[0]->*ops.data)(), gates);
  // Rank-1 products broadcast b_c to every row and x_static W_xc_staticᵀ to every step.
  ops.gemm(Trans::No, Trans::No, T * N, G, 1, 1.0f, ones, (blobs_[1].get()->*ops.data)(), 1.0f,
           gates);
  if (static_input_) {
    float* static_product = (static_product_.*ops.mutable_data)();
    ops.gemm(Trans::No, Trans::Yes, N, G, static_size_, 1.0f, (bottom[2]->*ops.data)(),
             (blobs_[2].get()->*ops.data)(), 0.0f, static_product);
    ops.gemm(Trans::No, Trans::No, T, N * G, 1, 1.0f, ones, static_product, 1.0f, gates);
  }
}

void LSTMLayer::ForwardOn(const lstm::Ops& ops, const BlobVec& bottom, const BlobVec& top) {
  const int T = steps_, N = streams_, H = hidden_, G = gate_width();
  ForwardInputTerms(ops, bottom);

  const float* cont = (bottom[1]->*ops.data)();
  const int first_state = initial_hidden_bottom();
  Blob& initial_hidden = expose_hidden() ? *bottom[first_state] : carry_hidden_;
  Blob& initial_cell = expose_hidden() ? *bottom[first_state + 1] : carry_cell_;
  float* prev_hidden = (prev_hidden_.*ops.mutable_data)();
  float* prev_cell = (prev_cell_.*ops.mutable_data)();
  ops.scale_rows(N, H, cont, (initial_hidden.*ops.data)(), prev_hidden);
  ops.scale_rows(N, H, cont, (initial_cell.*ops.data)(), prev_cell);
  // The last step writes h_T, c_T to the exposed tops or to the state kept for the next call.
  float* final_hidden = ((expose_hidden() ? top[1] : &carry_hidden_)->*ops.mutable_data)();
  float* final_cell = ((expose_hidden() ? top[2] : &carry_cell_)->*ops.mutable_data)();

  const float* hidden_weight = (blobs_[hidden_weight_index()].get()->*ops.data)();
  float* gates = (gates_.*ops.mutable_data)();
  float* cell = (cell_.*ops.mutable_data)();
  float* hidden = (top[0]->*ops.mutable_data)();
  for (int t = 0; t < T; ++t) {
    const long long state = static_cast<long long>(t) * N * H;
    const long long gate = static_cast<long long>(t) * N * G;
    ops.gemm(Trans::No, Trans::Yes, N, G, H, 1.0f, prev_hidden + state, hidden_weight, 1.0f,
             gates + gate);
    const bool last = t + 1 == T;
    const lstm::ForwardStep step{gates + gate,
                                 prev_cell + state,
                                 cell + state,
                                 hidden + state,
                                 last ? nullptr : cont + static_cast<long long>(t + 1) * N,
                                 last ? final_hidden : prev_hidden + state + N * H,
                                 last ? final_cell : prev_cell + state + N * H,
                                 H};
    ops.forward_step(step, N);
  }
}

void LSTMLayer::BackwardInputTerms(const lstm::Ops& ops, const std::vector<bool>& propagate_down,
                                   const BlobVec& bottom) {
  const int T = steps_, N = streams_, G = gate_width();
  const float* gates_diff = (gates_.*ops.diff)();
  const float* ones = (ones_.*ops.data)();
  if (param_propagate_down(1)) {
    ops.gemv(Trans::Yes, T * N, G, 1.0f, gates_diff, ones, 1.0f,
             (blobs_[1].get()->*ops.mutable_diff)());
  }
  float* x_diff = propagate_down[0] ? (bottom[0]->*ops.mutable_diff)() : nullptr;
  float* weight_diff = param_propagate_down(0) ? (blobs_[0].get()->*ops.mutable_diff)() : nullptr;
  if (x_diff || weight_diff) {
    BackpropInput(ops, gates_diff, (bottom[0]->*ops.data)(), x_diff, weight_diff);
  }
  if (!static_input_ || !(propagate_down[2] || param_propagate_down(2))) return;
  // The static term is shared by all steps: its gradient is the sum over t.
  float* step_sum = (static_product_.*ops.mutable_diff)();
  ops.gemv(Trans::Yes, T, N * G, 1.0f, gates_diff, ones, 0.0f, step_sum);
  if (param_propagate_down(2)) {
    ops.gemm(Trans::Yes, Trans::No, G, static_size_, N, 1.0f, step_sum, (bottom[2]->*ops.data)(),
             1.0f, (blobs_[2].get()->*ops.mutable_diff)());
  }
  if (propagate_down[2]) {
    ops.gemm(Trans::No, Trans::No, N, static_size_, G, 1.0f, step_sum,
             (blobs_[2].get()->*ops.data)(), 0.0f, (bottom[2]->*ops.mutable_diff)());
  }
}

void LSTMLayer::BackwardOn(const lstm::Ops& ops, const BlobVec& top,
                           const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (propagate_down[1]) {
    fail("cannot propagate a gradient to cont (bottom 1, the sequence indicators); set ",
         "propagate_down: false for it");
  }
  const int T = steps_, N = streams_, H = hidden_, G = gate_width();
  const int first_state = initial_hidden_bottom();
  const bool initial_state_diff =
      expose_hidden() && (propagate_down[first_state] || propagate_down[first_state + 1]);

  // Gradients entering the last step: from the exposed h_T, c_T tops, else none.
  float* cell_diff = (cell_diff_.*ops.mutable_data)();
  const float* incoming_hidden_diff = nullptr;
  if (expose_hidden()) {
    ops.copy(N * H, (top[2]->*ops.diff)(), cell_diff);
    incoming_hidden_diff = (top[1]->*ops.diff)();
  } else {
    ops.set(N * H, 0.0f, cell_diff);
  }

  const float* cont = (bottom[1]->*ops.data)();
  const float* hidden_weight = (blobs_[hidden_weight_index()].get()->*ops.data)();
  const float* gates = (gates_.*ops.data)();
  const float* prev_cell = (prev_cell_.*ops.data)();
  const float* cell = (cell_.*ops.data)();
  const float* top_diff = (top[0]->*ops.diff)();
  float* gates_diff = (gates_.*ops.mutable_diff)();
  float* hidden_diff = (hidden_diff_.*ops.mutable_data)();
  for (int t = T - 1; t >= 0; --t) {
    const long long state = static_cast<long long>(t) * N * H;
    const long long gate = static_cast<long long>(t) * N * G;
    const bool last = t + 1 == T;
    const lstm::BackwardStep step{gates + gate,
                                  prev_cell + state,
                                  cell + state,
                                  top_diff + state,
                                  incoming_hidden_diff,
                                  cell_diff,
                                  last ? nullptr : cont + static_cast<long long>(t + 1) * N,
                                  gates_diff + gate,
                                  H};
    ops.backward_step(step, N);
    if (t == 0 && !initial_state_diff) break;
    // Gradient w.r.t. cont_t · h_{t−1}, the recurrent GEMM's input.
    ops.gemm(Trans::No, Trans::No, N, H, G, 1.0f, gates_diff + gate, hidden_weight, 0.0f,
             hidden_diff);
    incoming_hidden_diff = hidden_diff;
  }
  if (initial_state_diff) {
    if (propagate_down[first_state]) {
      ops.scale_rows(N, H, cont, hidden_diff, (bottom[first_state]->*ops.mutable_diff)());
    }
    if (propagate_down[first_state + 1]) {
      ops.scale_rows(N, H, cont, cell_diff, (bottom[first_state + 1]->*ops.mutable_diff)());
    }
  }

  const int hidden_weight_param = hidden_weight_index();
  if (param_propagate_down(hidden_weight_param)) {
    ops.gemm(Trans::Yes, Trans::No, G, H, T * N, 1.0f, gates_diff, (prev_hidden_.*ops.data)(),
             1.0f, (blobs_[hidden_weight_param].get()->*ops.mutable_diff)());
  }
  BackwardInputTerms(ops, propagate_down, bottom);
}

void LSTMLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(lstm::kCpuOps, bottom, top);
}

void LSTMLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(lstm::kCpuOps, top, propagate_down, bottom);
}

REGISTER_LAYER("LSTM", LSTMLayer);

}  // namespace caffe
