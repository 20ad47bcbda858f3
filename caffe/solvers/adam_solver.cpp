#include "caffe/solvers/adam_solver.hpp"

#include <cmath>

namespace caffe {

AdamSolver::AdamSolver(const SolverParameter& param) : Solver(param) {
  RequireFraction("momentum (beta1)", param_.momentum());
  RequireFraction("momentum2 (beta2)", param_.momentum2());
  AllocateHistory(2);
}

void AdamSolver::UpdateParam(const ParamStep& step) {
  const double t = iter_ + 1.0;
  const double beta1 = param_.momentum();
  const double beta2 = param_.momentum2();
  const double correction = std::sqrt(1.0 - std::pow(beta2, t)) / (1.0 - std::pow(beta1, t));
  run_update(mode(), learnable_param(step.param_id).count(),
             AdamUpdate{buffers(step.param_id, /*second_set=*/true), step.gradient,
                        static_cast<float>(step.rate * correction), param_.delta(),
                        static_cast<float>(beta1), static_cast<float>(beta2)});
}

REGISTER_SOLVER("Adam", AdamSolver);

}  // namespace caffe
