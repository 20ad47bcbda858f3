// The start of a data-parallel job: every rank sets itself up on its own (errors caught), then
// the ranks gather each rank's outcome, its error or a description of its net and settings,
// and every rank raises the same AgreedError when any rank failed or described something other
// than rank 0 did.  So a bad solver file or a net that differs on one rank ends the job with
// one message (naming the rank and the blob) before any rank trains.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "caffe/parallel/mpi_context.hpp"

namespace caffe {

// What a rank trains, as (what, value) pairs in a fixed order, e.g.
// ("learnable blob 'ip1[0]'", "shape 392 784, lr_mult 1") or ("the codec", "dynamic c=6 ...").
using SetupDescription = std::vector<std::pair<std::string, std::string>>;

// Gathers `error` (empty when this rank's setup succeeded) or `description` from every rank;
// throws the same AgreedError on every rank when a rank failed or differs from rank 0.
void agree_on_setup(const MpiContext& mpi, const std::string& error,
                    const SetupDescription& description);

}  // namespace caffe
