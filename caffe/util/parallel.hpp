// Element-wise host loops on all CPU threads.  The CPU BLAS parallelises the products; the
// per-element passes between them (the solver's update over every weight, dropout masks) would
// otherwise run on one core while the others idle.
#pragma once

#include <functional>

namespace caffe {

// Calls fn(begin, end) on contiguous chunks that cover [0, count), up to four per CPU thread
// (threads: blas_threads()), each but the last at least min_chunk long; returns when every chunk
// is done.
// The caller's thread and the helpers claim chunks in turn, so a helper that the OS has not
// scheduled yet (a busy machine) costs nothing: the caller runs the chunks that nobody claimed.
// Runs fn(0, count) inline when count < 2 · min_chunk or only one thread is set, so small loops
// pay no hand-off.  The helper threads sleep between calls (they never spin on a core that the
// BLAS threads need).  fn must not throw; chunks must not write the same elements.
void parallel_for(long long count, long long min_chunk,
                  const std::function<void(long long begin, long long end)>& fn);

// Calls fn(part) for part in [0, parts) on up to `parts` threads (the caller's among them; parts
// are claimed in turn, as parallel_for's chunks are); returns when all are done.  For work that the caller splits itself (ranges of unequal
// cost balanced by their measured size): parts should not exceed blas_threads().  Runs inline
// when parts < 2.  fn must not throw; parts must not write the same elements.
void parallel_parts(int parts, const std::function<void(int part)>& fn);

}  // namespace caffe
