// libFuzzer harness "solver_text":
// SolverParameter prototxt: parsed and upgraded as load_solver_param does; a solver that names no
// outside file (its nets inline) is created, and its learning rate evaluated over iterations.
#include "fuzz/harness.hpp"
#include "fuzz/proto_mutator.hpp"
#include "proto/caffe.pb.h"

CAFFE_FUZZ_HARNESS(solver_text)
CAFFE_FUZZ_PROTOTXT_MUTATOR(caffe::SolverParameter)
