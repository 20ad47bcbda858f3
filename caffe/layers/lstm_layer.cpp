#include "caffe/layers/lstm_layer.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"
#include "caffe/util/parallel.hpp"
#include "caffe/util/vector_clones.hpp"

namespace caffe {
namespace {

// dst[n, :] = scale[n] · src[n, :] for an [N, width] matrix (dst may be src).
void scale_rows(Mode mode, int N, int width, const float* scale, const float* src, float* dst) {
  for_each(mode, N, width, lstm::ScaleRows{width, scale, src, dst});
}

// The host loops of the step functors over rows [begin, end) of their N×H grid, compiled for
// AVX2 and AVX-512 too.  ivdep: the units of a row touch disjoint elements of arrays that do not
// overlap, which GCC cannot prove by itself (it would not vectorise the loop).
CAFFE_VECTOR_CLONES void forward_rows(const lstm::ForwardStep& step, long long begin,
                                      long long end) {
  const lstm::ForwardStep body = step;  // a local copy, as for_each makes
  for (long long n = begin; n < end; ++n) {
#pragma GCC ivdep
    for (int k = 0; k < body.H; ++k) body(static_cast<int>(n), k);
  }
}

CAFFE_VECTOR_CLONES void backward_rows(const lstm::BackwardStep& step, long long begin,
                                       long long end) {
  const lstm::BackwardStep body = step;
  for (long long n = begin; n < end; ++n) {
#pragma GCC ivdep
    for (int k = 0; k < body.H; ++k) body(static_cast<int>(n), k);
  }
}

// One step's units: for_each on the device; on the host the vectorised rows above, split over
// the parallel_for threads only when a step is large (a vectorised unit costs a few ns, less than
// waking a thread for a few thousand of them).
template <typename Step>
void run_step(Mode mode, int N, int H, const Step& step,
              void (*host_rows)(const Step&, long long, long long)) {
  if (mode == Mode::GPU) {
    for_each(mode, N, H, step);
    return;
  }
  constexpr long long kMinUnitsPerThread = 1 << 16;
  parallel_for(N, std::max(1LL, kMinUnitsPerThread / H),
               [&](long long begin, long long end) { host_rows(step, begin, end); });
}

}  // namespace

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

void LSTMLayer::ProjectInput(Mode mode, int rows, const float* x, const float* weight,
                             float* gates) {
  blas(mode).gemm(Trans::No, Trans::Yes, rows, gate_width(), input_size_, 1.0f, x, weight, 0.0f,
                  gates);
}

void LSTMLayer::BackpropInput(Mode mode, int rows, const float* gates_diff, const float* x,
                              const float* weight, float* x_diff, float* weight_diff) {
  const int G = gate_width();
  if (weight_diff) {
    blas(mode).gemm(Trans::Yes, Trans::No, G, input_size_, rows, 1.0f, gates_diff, x, 1.0f,
                    weight_diff);
  }
  if (x_diff) {
    blas(mode).gemm(Trans::No, Trans::No, rows, input_size_, G, 1.0f, gates_diff, weight, 0.0f,
                    x_diff);
  }
}

void LSTMLayer::ForwardInputTerms(Mode mode, const BlobVec& bottom) {
  const int T = steps_, N = streams_, G = gate_width();
  float* gates = gates_.mutable_data_on(mode);
  const float* ones = ones_.data_on(mode);
  ProjectInput(mode, T * N, bottom[0]->data_on(mode), blobs_[0]->data_on(mode), gates);
  // Rank-1 products broadcast b_c to every row and x_static W_xc_staticᵀ to every step.
  blas(mode).gemm(Trans::No, Trans::No, T * N, G, 1, 1.0f, ones, blobs_[1]->data_on(mode), 1.0f,
                  gates);
  if (static_input_) {
    float* static_product = static_product_.mutable_data_on(mode);
    blas(mode).gemm(Trans::No, Trans::Yes, N, G, static_size_, 1.0f, bottom[2]->data_on(mode),
                    blobs_[2]->data_on(mode), 0.0f, static_product);
    blas(mode).gemm(Trans::No, Trans::No, T, N * G, 1, 1.0f, ones, static_product, 1.0f, gates);
  }
}

void LSTMLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const int T = steps_, N = streams_, H = hidden_, G = gate_width();
  ForwardInputTerms(mode, bottom);

  const float* cont = bottom[1]->data_on(mode);
  const int first_state = initial_hidden_bottom();
  Blob& initial_hidden = expose_hidden() ? *bottom[first_state] : carry_hidden_;
  Blob& initial_cell = expose_hidden() ? *bottom[first_state + 1] : carry_cell_;
  float* prev_hidden = prev_hidden_.mutable_data_on(mode);
  float* prev_cell = prev_cell_.mutable_data_on(mode);
  scale_rows(mode, N, H, cont, initial_hidden.data_on(mode), prev_hidden);
  scale_rows(mode, N, H, cont, initial_cell.data_on(mode), prev_cell);
  // The last step writes h_T, c_T to the exposed tops or to the state kept for the next call.
  float* final_hidden = (expose_hidden() ? top[1] : &carry_hidden_)->mutable_data_on(mode);
  float* final_cell = (expose_hidden() ? top[2] : &carry_cell_)->mutable_data_on(mode);

  forward_recurrence_.Prepare(mode, Trans::No, N, G, H, Trans::Yes,
                              blobs_[hidden_weight_index()]->data_on(mode), 1.0f);
  float* gates = gates_.mutable_data_on(mode);
  float* cell = cell_.mutable_data_on(mode);
  float* hidden = top[0]->mutable_data_on(mode);
  const float* ones = ones_.data_on(mode);  // cont after the last step
  for (int t = 0; t < T; ++t) {
    const long long state = static_cast<long long>(t) * N * H;
    const long long gate = static_cast<long long>(t) * N * G;
    forward_recurrence_.Run(prev_hidden + state, gates + gate);
    const bool last = t + 1 == T;
    const lstm::ForwardStep step{gates + gate,
                                 prev_cell + state,
                                 cell + state,
                                 hidden + state,
                                 last ? ones : cont + static_cast<long long>(t + 1) * N,
                                 last ? final_hidden : prev_hidden + state + N * H,
                                 last ? final_cell : prev_cell + state + N * H,
                                 H};
    run_step(mode, N, H, step, forward_rows);
  }
}

void LSTMLayer::BackwardInputTerms(Mode mode, const std::vector<bool>& propagate_down,
                                   const BlobVec& bottom) {
  const int T = steps_, N = streams_, G = gate_width();
  const float* gates_diff = gates_.diff_on(mode);
  const float* ones = ones_.data_on(mode);
  if (param_propagate_down(1)) {
    blas(mode).gemv(Trans::Yes, T * N, G, 1.0f, gates_diff, ones, 1.0f,
                    blobs_[1]->mutable_diff_on(mode));
  }
  float* x_diff = propagate_down[0] ? bottom[0]->mutable_diff_on(mode) : nullptr;
  float* weight_diff = param_propagate_down(0) ? blobs_[0]->mutable_diff_on(mode) : nullptr;
  if (x_diff || weight_diff) {
    BackpropInput(mode, T * N, gates_diff, bottom[0]->data_on(mode), blobs_[0]->data_on(mode),
                  x_diff, weight_diff);
  }
  if (!static_input_ || !(propagate_down[2] || param_propagate_down(2))) return;
  // The static term is shared by all steps: its gradient is the sum over t.
  float* step_sum = static_product_.mutable_diff_on(mode);
  blas(mode).gemv(Trans::Yes, T, N * G, 1.0f, gates_diff, ones, 0.0f, step_sum);
  if (param_propagate_down(2)) {
    blas(mode).gemm(Trans::Yes, Trans::No, G, static_size_, N, 1.0f, step_sum,
                    bottom[2]->data_on(mode), 1.0f, blobs_[2]->mutable_diff_on(mode));
  }
  if (propagate_down[2]) {
    blas(mode).gemm(Trans::No, Trans::No, N, static_size_, G, 1.0f, step_sum,
                    blobs_[2]->data_on(mode), 0.0f, bottom[2]->mutable_diff_on(mode));
  }
}

void LSTMLayer::BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                           const BlobVec& bottom) {
  if (propagate_down[1]) {
    fail("cannot propagate a gradient to cont (bottom 1, the sequence indicators); set ",
         "propagate_down: false for it");
  }
  const int T = steps_, N = streams_, H = hidden_, G = gate_width();
  const int first_state = initial_hidden_bottom();
  const bool initial_state_diff =
      expose_hidden() && (propagate_down[first_state] || propagate_down[first_state + 1]);

  // Gradients entering the last step: from the exposed h_T, c_T tops, else zero.
  float* cell_diff = cell_diff_.mutable_data_on(mode);
  float* hidden_diff = hidden_diff_.mutable_data_on(mode);
  const float* incoming_hidden_diff = hidden_diff;
  if (expose_hidden()) {
    blas(mode).copy(N * H, top[2]->diff_on(mode), cell_diff);
    incoming_hidden_diff = top[1]->diff_on(mode);
  } else {
    blas(mode).set(N * H, 0.0f, cell_diff);
    blas(mode).set(N * H, 0.0f, hidden_diff);
  }

  const float* cont = bottom[1]->data_on(mode);
  backward_recurrence_.Prepare(mode, Trans::No, N, H, G, Trans::No,
                               blobs_[hidden_weight_index()]->data_on(mode), 0.0f);
  const float* gates = gates_.data_on(mode);
  const float* prev_cell = prev_cell_.data_on(mode);
  const float* cell = cell_.data_on(mode);
  const float* top_diff = top[0]->diff_on(mode);
  float* gates_diff = gates_.mutable_diff_on(mode);
  const float* ones = ones_.data_on(mode);  // cont after the last step
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
                                  last ? ones : cont + static_cast<long long>(t + 1) * N,
                                  gates_diff + gate,
                                  H};
    run_step(mode, N, H, step, backward_rows);
    if (t == 0 && !initial_state_diff) break;
    // Gradient w.r.t. cont_t · h_{t−1}, the recurrent GEMM's input.
    backward_recurrence_.Run(gates_diff + gate, hidden_diff);
    incoming_hidden_diff = hidden_diff;
  }
  if (initial_state_diff) {
    if (propagate_down[first_state]) {
      scale_rows(mode, N, H, cont, hidden_diff, bottom[first_state]->mutable_diff_on(mode));
    }
    if (propagate_down[first_state + 1]) {
      scale_rows(mode, N, H, cont, cell_diff, bottom[first_state + 1]->mutable_diff_on(mode));
    }
  }

  const int hidden_weight_param = hidden_weight_index();
  if (param_propagate_down(hidden_weight_param)) {
    // dW_hc += dgatesᵀ (cont_t · h_{t−1}) over all T·N rows at once.
    hidden_weight_gradient_.Prepare(mode, Trans::Yes, G, H, T * N, Trans::No,
                                    prev_hidden_.data_on(mode), 1.0f);
    hidden_weight_gradient_.Run(gates_diff, blobs_[hidden_weight_param]->mutable_diff_on(mode));
  }
  BackwardInputTerms(mode, propagate_down, bottom);
}

void LSTMLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void LSTMLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("LSTM", LSTMLayer);

}  // namespace caffe
