#include "caffe/solvers/sgd_solver.hpp"

#include "caffe/solvers/lr_policy.hpp"

namespace caffe {

SGDSolver::SGDSolver(const SolverParameter& param)
    : Solver(param),
      deferred_(param.momentum(), [this](int iter) { return learning_rate_at(param_, iter); }) {
  AllocateHistory(1);
}

// A deferred step must be linear in (V, W): L2 decay, not L1's sign(W).
bool SGDSolver::SkipsRowsWithoutGradient() const { return param_.regularization_type() != "L1"; }

void SGDSolver::UpdateParam(const ParamStep& step) {
  const SgdUpdate update{buffers(step.param_id), step.gradient, step.rate, param_.momentum()};
  const long long count = learnable_param(step.param_id).count();
  const bool deferred = deferred_.deferred(step.param_id);
  if (deferred && step.rows) {
    update_rows(update, *step.rows, count);
  } else {
    for_each(mode(), count, update, kUpdateMinChunk);
  }
  if (deferred) deferred_.MarkUpdated(step.param_id, step.rows, iter_);
}

void SGDSolver::CatchUpRows(const GradientRows& rows) {
  if (rows.empty()) {
    EndRows();
    return;
  }
  if (!deferred_.active()) {
    std::vector<std::optional<DeferredDecay::Param>> params(rows.size());
    for (size_t id = 0; id < rows.size(); ++id) {
      if (!rows[id]) continue;
      params[id] = DeferredDecay::Param{
          &learnable_param(static_cast<int>(id)), &history_blob(0, static_cast<int>(id)),
          rows[id]->rows, net().params_lr()[id],
          param_.weight_decay() * net().params_weight_decay()[id]};
    }
    deferred_.Begin(std::move(params), iter_);
  }
  for (size_t id = 0; id < rows.size(); ++id) {
    deferred_.CatchUp(static_cast<int>(id), rows[id] ? &*rows[id] : nullptr, iter_);
  }
}

void SGDSolver::SettleRows() {
  if (deferred_.active()) deferred_.Settle(iter_);
}

void SGDSolver::EndRows() {
  if (deferred_.active()) deferred_.End(iter_);
}

REGISTER_SOLVER("SGD", SGDSolver);

}  // namespace caffe
