#include "caffe/solvers/sgd_solver.hpp"

namespace caffe {

SGDSolver::SGDSolver(const SolverParameter& param) : Solver(param) { AllocateHistory(1); }

void SGDSolver::UpdateParam(const ParamStep& step) {
  run_update(mode(), learnable_param(step.param_id).count(),
             SgdUpdate{buffers(step.param_id), step.gradient, step.rate, param_.momentum()});
}

REGISTER_SOLVER("SGD", SGDSolver);

}  // namespace caffe
