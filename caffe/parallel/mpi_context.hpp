// The process group of a data-parallel `caffe train`: MPI_COMM_WORLD of an OpenMPI job that
// mpirun started, the few collectives the trainer needs, and how a job ends on an error:
// - an error that every rank detects alike (AgreedError: a setting that differs across ranks,
//   a snapshot of another process count) is printed once, by rank 0, and every rank exits 1;
// - any other error is printed by the rank that hit it ("rank r of K: ...") and aborts the
//   whole job (MPI_Abort), so that no rank waits for a peer that is gone.  A rank that dies
//   (a crash, a kill) is noticed by mpirun, which ends the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <vector>

#include "caffe/core/common.hpp"

namespace caffe {

// An error every rank raised alike, from the same gathered facts.
class AgreedError : public Error {
 public:
  using Error::Error;
};

// Every rank's bytes, in rank order.
struct Gathered {
  std::vector<uint8_t> bytes;
  std::vector<size_t> offsets;  // rank r's bytes are [offsets[r], offsets[r + 1])

  const uint8_t* data(int rank) const { return bytes.data() + offsets[rank]; }
  size_t size(int rank) const { return offsets[rank + 1] - offsets[rank]; }
};

class MpiContext {
 public:
  // This process's rank when mpirun started it (OpenMPI's OMPI_COMM_WORLD_RANK), else -1.
  // (Inline: a build without MPI still tells a process that mpirun started.)
  static int launch_rank() {
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    return rank ? std::atoi(rank) : -1;
  }
  static bool launched_by_mpirun() { return launch_rank() >= 0; }

  // MPI_Init_thread (only the calling thread makes MPI calls); MPI errors are fatal to the job.
  MpiContext();
  // MPI_Finalize.
  ~MpiContext();
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ranks of this job on this host.
  int local_size() const { return local_size_; }

  // Runs `body` with the error handling above; returns the exit status (0, or 1 after an
  // AgreedError).  Any other exception aborts the job and does not return.
  int Run(const std::function<void()>& body) const;
  [[noreturn]] void Abort() const;

  // Every rank's byte count, as the offsets of their bytes in a Gathered.  A small allgather
  // that returns once every rank has called it: where the ranks meet.
  std::vector<size_t> GatherSizes(size_t size) const;
  // Every rank's `size` bytes (sizes may differ across ranks).
  Gathered AllGather(const uint8_t* data, size_t size) const;
  // The same, with every rank's GatherSizes(size) in `offsets`.
  Gathered AllGather(const uint8_t* data, size_t size, std::vector<size_t> offsets) const;
  // Every rank's bytes into `gathered`, whose offsets hold every rank's GatherSizes(size),
  // passed around the ring of ranks (rank r sends to r + 1 and receives from r - 1, mod K) by
  // nonblocking point-to-point transfers, one rank's bytes per step.  `arrived(r)` runs on this
  // thread as soon as rank r's bytes are in place (this rank's first, before any transfer)
  // while the next step's transfers proceed, so that work on them (on another thread) overlaps
  // the rest of the exchange; between checks on its transfers this thread sleeps briefly,
  // leaving the core to that work.
  void RingAllGather(const uint8_t* data, size_t size, Gathered* gathered,
                     const std::function<void(int)>& arrived) const;
  // The same, delivered to rank 0 only (other ranks get an empty Gathered).
  Gathered GatherToRoot(const uint8_t* data, size_t size) const;
  // Copies rank 0's `size` bytes at `data` into every rank's `data`.
  void Broadcast(void* data, size_t size) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
};

}  // namespace caffe
