#include "caffe/solvers/lr_policy.hpp"

#include <algorithm>
#include <cmath>

#include "caffe/core/common.hpp"

namespace caffe {

std::string lr_policy_name(const SolverParameter& param) {
  return param.lr_policy().empty() ? "fixed" : param.lr_policy();
}

void check_lr_policy(const SolverParameter& param) {
  const std::string policy = lr_policy_name(param);
  if (policy == "fixed" || policy == "exp" || policy == "inv") return;
  if (policy == "step" || policy == "sigmoid") {
    if (policy == "step" && param.stepsize() <= 0) {
      fail("lr_policy \"step\" needs stepsize > 0 (got ", param.stepsize(), ")");
    }
    return;
  }
  if (policy == "multistep") {
    if (param.stepvalue_size() == 0) fail("lr_policy \"multistep\" needs at least one stepvalue");
    for (int i = 1; i < param.stepvalue_size(); ++i) {
      if (param.stepvalue(i) <= param.stepvalue(i - 1)) {
        fail("lr_policy \"multistep\": stepvalues must increase, but stepvalue ", param.stepvalue(i),
             " follows ", param.stepvalue(i - 1));
      }
    }
    return;
  }
  if (policy == "poly") {
    if (param.max_iter() <= 0) fail("lr_policy \"poly\" needs max_iter > 0");
    return;
  }
  fail("unknown lr_policy \"", policy,
       "\"; use one of fixed, step, exp, inv, multistep, poly, sigmoid");
}

int multistep_index(const SolverParameter& param, int iter) {
  int passed = 0;
  while (passed < param.stepvalue_size() && iter >= param.stepvalue(passed)) ++passed;
  return passed;
}

float learning_rate_at(const SolverParameter& param, int iter) {
  const std::string policy = lr_policy_name(param);
  // Double precision so that long schedules (gamma^iter) do not drift.
  const double base = param.base_lr();
  const double gamma = param.gamma();
  const double t = iter;
  double rate = base;
  if (policy == "step") {
    rate = base * std::pow(gamma, std::floor(t / param.stepsize()));
  } else if (policy == "exp") {
    rate = base * std::pow(gamma, t);
  } else if (policy == "inv") {
    rate = base * std::pow(1.0 + gamma * t, -static_cast<double>(param.power()));
  } else if (policy == "multistep") {
    rate = base * std::pow(gamma, multistep_index(param, iter));
  } else if (policy == "poly") {
    const double remaining = std::max(0.0, 1.0 - t / param.max_iter());
    rate = base * std::pow(remaining, static_cast<double>(param.power()));
  } else if (policy == "sigmoid") {
    rate = base / (1.0 + std::exp(-gamma * (t - param.stepsize())));
  } else if (policy != "fixed") {
    check_lr_policy(param);  // throws the "unknown lr_policy" error
  }
  return static_cast<float>(rate);
}

}  // namespace caffe
