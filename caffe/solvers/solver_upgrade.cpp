// Solver upgrades: solver_type (enum) -> type (string).
#include "caffe/solvers/solver_upgrade.hpp"

#include <glog/logging.h>

#include "caffe/core/common.hpp"
#include "caffe/solvers/solver_text.hpp"

namespace caffe {

std::string solver_type_name(SolverParameter::SolverType type) {
  // clang-format off
  switch (type) {
    case SolverParameter::SGD: return "SGD";
    case SolverParameter::NESTEROV: return "Nesterov";
    case SolverParameter::ADAGRAD: return "AdaGrad";
    case SolverParameter::RMSPROP: return "RMSProp";
    case SolverParameter::ADADELTA: return "AdaDelta";
    case SolverParameter::ADAM: return "Adam";
  }
  // clang-format on
  fail("unknown solver_type ", static_cast<int>(type));
}

bool solver_needs_upgrade(const SolverParameter& param) { return param.has_solver_type(); }

std::string upgrade_solver(SolverParameter* param) {
  if (!solver_needs_upgrade(*param)) return "";
  const std::string old_type = solver_type_name(param->solver_type());
  param->clear_solver_type();
  if (param->has_type()) {
    if (solver_text::lowercase(param->type()) == solver_text::lowercase(old_type))
      return "dropped solver_type, which repeats type \"" + old_type + "\"";
    return "ignored solver_type (" + old_type + ") in favour of type \"" + param->type() + "\"";
  }
  param->set_type(old_type);
  return "replaced solver_type with type: \"" + old_type + "\"";
}

void upgrade_solver_logged(SolverParameter* param, const std::string& origin) {
  const std::string done = upgrade_solver(param);
  if (!done.empty()) {
    LOG(WARNING) << origin << " uses the old solver_type field; " << done
                 << ". Save the upgraded solver with upgrade_solver_proto_text to skip this step.";
  }
}

}  // namespace caffe
