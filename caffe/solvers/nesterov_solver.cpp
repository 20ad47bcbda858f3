#include "caffe/solvers/nesterov_solver.hpp"

namespace caffe {

NesterovSolver::NesterovSolver(const SolverParameter& param) : Solver(param) { AllocateHistory(1); }

void NesterovSolver::UpdateParam(const ParamStep& step) {
  run_update(mode(), learnable_param(step.param_id).count(),
             NesterovUpdate{buffers(step.param_id), step.gradient, step.rate, param_.momentum()});
}

REGISTER_SOLVER("Nesterov", NesterovSolver);

}  // namespace caffe
