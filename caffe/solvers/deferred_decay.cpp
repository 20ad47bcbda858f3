#include "caffe/solvers/deferred_decay.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "caffe/core/common.hpp"
#include "caffe/solvers/param_update.hpp"
#include "caffe/util/parallel.hpp"

namespace caffe {

namespace {

// A 2 × 2 map of (v, w), in double while the product of many steps is formed.
struct StepMatrix {
  double vv = 1, vw = 0, wv = 0, ww = 1;

  StepMatrix operator*(const StepMatrix& b) const {
    return {vv * b.vv + vw * b.wv, vv * b.vw + vw * b.ww, wv * b.vv + ww * b.wv,
            wv * b.vw + ww * b.ww};
  }
};

// One zero-gradient step: v' = m·v + r·d·w,  w' = w − v' = −m·v + (1 − r·d)·w.
StepMatrix zero_gradient_step(double momentum, double rate, double decay) {
  return {momentum, rate * decay, -momentum, 1.0 - rate * decay};
}

}  // namespace

DeferredDecay::DeferredDecay(float momentum, std::function<float(int)> rate)
    : momentum_(momentum), rate_(std::move(rate)) {}

void DeferredDecay::Begin(std::vector<std::optional<Param>> params, int iter) {
  params_.clear();
  params_.resize(params.size());
  for (size_t id = 0; id < params.size(); ++id) {
    if (!params[id]) continue;
    const Param& param = *params[id];
    CHECK_GT(param.rows, 0);
    CHECK_EQ(param.blob->count() % param.rows, 0);
    CHECK_EQ(param.history->count(), param.blob->count());
    params_[id] = State{param, std::vector<int>(param.rows, iter)};
  }
}

bool DeferredDecay::deferred(int param_id) const {
  return param_id < static_cast<int>(params_.size()) && params_[param_id].has_value();
}

void DeferredDecay::Advance(State& state, const ParamRows* rows, int iter, bool write_diff) const {
  const Param& param = state.param;
  std::vector<int>& current_at = state.current_at;
  int oldest = iter;
  for (int row = 0; row < param.rows; ++row) {
    if (!rows || rows->has(row)) oldest = std::min(oldest, current_at[row]);
  }
  if (oldest == iter) return;
  // since[k] = A_{iter−1} ··· A_{iter−k}: the k steps a row current at iter − k has missed.
  std::vector<StepMatrix> since(iter - oldest + 1);
  for (int k = 1; k <= iter - oldest; ++k) {
    const double rate = static_cast<double>(rate_(iter - k)) * param.lr_mult;
    since[k] = since[k - 1] * zero_gradient_step(momentum_, rate, param.decay);
  }
  float* weight = param.blob->mutable_cpu_data();
  float* history = param.history->mutable_cpu_data();
  float* diff = write_diff ? param.blob->mutable_cpu_diff() : nullptr;
  parallel_rows(param.rows, param.blob->count() / param.rows, kUpdateMinChunk,
                [&](long long row, long long begin, long long end) {
                  if ((rows && !rows->has(row)) || current_at[row] == iter) return;
                  const StepMatrix& p = since[iter - current_at[row]];
                  const float vv = static_cast<float>(p.vv), vw = static_cast<float>(p.vw);
                  const float wv = static_cast<float>(p.wv), ww = static_cast<float>(p.ww);
                  for (long long i = begin; i < end; ++i) {
                    const float v = history[i];
                    const float w = weight[i];
                    history[i] = vv * v + vw * w;
                    weight[i] = wv * v + ww * w;
                  }
                  if (diff) std::copy(history + begin, history + end, diff + begin);
                  current_at[row] = iter;
                });
}

void DeferredDecay::CatchUp(int param_id, const ParamRows* rows, int iter) {
  if (deferred(param_id)) Advance(*params_[param_id], rows, iter, /*write_diff=*/false);
}

void DeferredDecay::MarkUpdated(int param_id, const ParamRows* rows, int iter) {
  if (!deferred(param_id)) return;
  std::vector<int>& current_at = params_[param_id]->current_at;
  const int first = rows ? rows->offset : 0;
  const int step = rows ? rows->period : 1;
  for (int row = first; row < static_cast<int>(current_at.size()); row += step) {
    current_at[row] = iter + 1;
  }
}

void DeferredDecay::Settle(int iter) {
  for (std::optional<State>& state : params_) {
    if (state) Advance(*state, nullptr, iter, /*write_diff=*/true);
  }
}

void DeferredDecay::End(int iter) {
  Settle(iter);
  params_.clear();
}

}  // namespace caffe
