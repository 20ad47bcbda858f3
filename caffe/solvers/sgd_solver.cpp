#include "caffe/solvers/sgd_solver.hpp"

namespace caffe {

SGDSolver::SGDSolver(const SolverParameter& param) : Solver(param) { AllocateHistory(1); }

void SGDSolver::UpdateParam(const ParamStep& step) {
  for_each(mode(), learnable_param(step.param_id).count(),
           SgdUpdate{buffers(step.param_id), step.gradient, step.rate, param_.momentum()},
           kUpdateMinChunk);
}

REGISTER_SOLVER("SGD", SGDSolver);

}  // namespace caffe
