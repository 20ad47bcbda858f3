// Learning-rate policies (SolverParameter.lr_policy), as pure functions of the iteration so that
// a resumed run follows exactly the schedule of an uninterrupted one.
//   fixed      base_lr
//   step       base_lr · gamma^floor(iter / stepsize)
//   exp        base_lr · gamma^iter
//   inv        base_lr · (1 + gamma · iter)^(-power)
//   multistep  base_lr · gamma^(number of stepvalues <= iter)
//   poly       base_lr · (1 - iter / max_iter)^power
//   sigmoid    base_lr / (1 + exp(-gamma · (iter - stepsize)))
// An unset lr_policy means "fixed".
#pragma once

#include <string>

#include "proto/caffe.pb.h"

namespace caffe {

// Errors (caffe::Error) on an unknown policy or on settings the policy cannot use
// (step without stepsize > 0, multistep without increasing stepvalues, poly without max_iter).
void check_lr_policy(const SolverParameter& param);
// The policy's name, "fixed" when unset.
std::string lr_policy_name(const SolverParameter& param);
// The learning rate at iteration `iter` (check_lr_policy first).
float learning_rate_at(const SolverParameter& param, int iter);
// How many multistep boundaries lie at or before `iter` (SolverState.current_step).
int multistep_index(const SolverParameter& param, int iter);

}  // namespace caffe
