// libFuzzer harness "solverstate":
// Binary SolverState (.solverstate): Solver::Restore(file) of a small fixed SGD solver.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(solverstate)
