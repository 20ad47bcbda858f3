// Solver upgrades: the `solver_type` enum of older solver files becomes the `type` string, as
// BVLC Caffe's loader does.  load_solver_param and Solver::Create run it.
#pragma once

#include <string>

#include "proto/caffe.pb.h"

namespace caffe {

// Whether `param` sets the old solver_type field.
bool solver_needs_upgrade(const SolverParameter& param);

// Moves solver_type into `type` (an explicitly set `type` wins) and clears it; returns a line
// saying what was done, empty when nothing was.
std::string upgrade_solver(SolverParameter* param);

// upgrade_solver with a glog warning naming `origin` (a file, or "solver parameters").
void upgrade_solver_logged(SolverParameter* param, const std::string& origin);

// The `type` string of a solver_type value ("AdaGrad" for ADAGRAD).
std::string solver_type_name(SolverParameter::SolverType type);

}  // namespace caffe
