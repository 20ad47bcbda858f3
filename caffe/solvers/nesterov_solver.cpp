#include "caffe/solvers/nesterov_solver.hpp"

namespace caffe {

NesterovSolver::NesterovSolver(const SolverParameter& param) : Solver(param) { AllocateHistory(1); }

void NesterovSolver::UpdateParam(const ParamStep& step) {
  for_each(mode(), learnable_param(step.param_id).count(),
           NesterovUpdate{buffers(step.param_id), step.gradient, step.rate, param_.momentum()},
           kUpdateMinChunk);
}

REGISTER_SOLVER("Nesterov", NesterovSolver);

}  // namespace caffe
