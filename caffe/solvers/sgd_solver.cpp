#include "caffe/solvers/sgd_solver.hpp"

namespace caffe {

SGDSolver::SGDSolver(const SolverParameter& param) : Solver(param) { AllocateHistory(1); }

void SGDSolver::UpdateParam(const ParamStep& step) {
  const SgdUpdate update{buffers(step.param_id), step.gradient, step.rate, param_.momentum()};
  const long long count = learnable_param(step.param_id).count();
  if (step.rows) {
    update_rows(update, *step.rows, count);
  } else {
    for_each(mode(), count, update, kUpdateMinChunk);
  }
}

REGISTER_SOLVER("SGD", SGDSolver);

}  // namespace caffe
