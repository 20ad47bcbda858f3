// How a data-parallel snapshot keeps every rank's update history (momentum and the like, which
// stays local to each rank): rank 0's .solverstate holds K history sets one after another in
// `history`, rank 0's first, so a plain Solver sees K times the blobs it expects and a resumed
// job takes its own set, and only when it has the same K.
#pragma once

#include <cstdint>
#include <vector>

#include "caffe/parallel/mpi_context.hpp"
#include "caffe/solvers/solver.hpp"

namespace caffe {

// The solver's history values, blob after blob, as bytes to gather.
std::vector<uint8_t> pack_history(const Solver& solver);

// Appends the history sets of ranks 1.. (from every rank's pack_history, gathered) to a state
// that holds rank 0's.
void append_rank_histories(const Gathered& histories, SolverState* state);

// Keeps only rank `rank`'s set of a state that holds `ranks` sets of `per_rank` blobs; an error
// naming both process counts when the state holds another number of whole sets (a state with
// a partial set is left for Solver::Restore to refuse).
void keep_rank_history(int rank, int ranks, size_t per_rank, const std::string& state_path,
                       SolverState* state);

}  // namespace caffe
