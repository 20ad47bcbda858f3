#include "caffe/parallel/mpi_context.hpp"

#include <glog/logging.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <thread>
#include <utility>

namespace caffe {
namespace {

// MPI counts are ints: larger transfers go in pieces (broadcast) or are refused (gathers).
constexpr size_t kMaxPiece = size_t{1} << 30;

void check_int_count(size_t bytes, const char* what) {
  if (bytes > static_cast<size_t>(INT_MAX)) {
    fail(what, " of ", bytes, " bytes exceeds MPI's limit of ", INT_MAX,
         " bytes per collective; use a compressing codec or fewer processes");
  }
}

std::vector<int> int_counts(const std::vector<size_t>& offsets) {
  std::vector<int> counts;
  for (size_t r = 0; r + 1 < offsets.size(); ++r) {
    counts.push_back(static_cast<int>(offsets[r + 1] - offsets[r]));
  }
  return counts;
}

std::vector<int> int_displacements(const std::vector<size_t>& offsets) {
  return std::vector<int>(offsets.begin(), offsets.end() - 1);
}

// The tag of the ring allgather's point-to-point messages.
constexpr int kRingTag = 1;
// How long RingAllGather sleeps between two checks on its transfers: short against what a
// socket's buffer holds at 1 Gbit/s (about 25 KB in this time), long enough to free the core.
constexpr std::chrono::microseconds kPollInterval{200};

// Waits for `requests`, driving MPI's progress (TCP transfers advance only inside MPI calls).
void wait_sleeping(MPI_Request* requests, int count) {
  int done = 0;
  for (;;) {
    MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// One write, so that mpirun does not interleave the line with another rank's output.
void print_line(const std::string& line) { std::cerr << line + "\n" << std::flush; }

}  // namespace

MpiContext::MpiContext() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  // The default, made explicit: a failed MPI call ends the whole job rather than one rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

MpiContext::~MpiContext() { MPI_Finalize(); }

int MpiContext::Run(const std::function<void()>& body) const {
  try {
    body();
    return 0;
  } catch (const AgreedError& error) {
    if (rank_ == 0) print_line(std::string("caffe: ") + error.what());
    return 1;
  } catch (const std::exception& error) {
    print_line("caffe: rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " +
               error.what());
  }
  Abort();
}

void MpiContext::Abort() const {
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // (MPI_Abort does not return)
}

std::vector<size_t> MpiContext::GatherSizes(size_t size) const {
  std::vector<uint64_t> sizes(size_);
  const uint64_t mine = size;
  MPI_Allgather(&mine, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  std::vector<size_t> offsets{0};
  for (uint64_t bytes : sizes) offsets.push_back(offsets.back() + bytes);
  return offsets;
}

Gathered MpiContext::AllGather(const uint8_t* data, size_t size) const {
  return AllGather(data, size, GatherSizes(size));
}

Gathered MpiContext::AllGather(const uint8_t* data, size_t size,
                               std::vector<size_t> offsets) const {
  CHECK_EQ(offsets.size(), static_cast<size_t>(size_) + 1) << "offsets of every rank's bytes";
  CHECK_EQ(offsets[rank_ + 1] - offsets[rank_], size) << "this rank's offsets";
  Gathered gathered;
  gathered.offsets = std::move(offsets);
  check_int_count(gathered.offsets.back(), "an exchange");
  gathered.bytes.resize(gathered.offsets.back());
  const std::vector<int> counts = int_counts(gathered.offsets);
  const std::vector<int> displacements = int_displacements(gathered.offsets);
  MPI_Allgatherv(data, static_cast<int>(size), MPI_BYTE, gathered.bytes.data(), counts.data(),
                 displacements.data(), MPI_BYTE, MPI_COMM_WORLD);
  return gathered;
}

void MpiContext::RingAllGather(const uint8_t* data, size_t size, Gathered* gathered,
                               const std::function<void(int)>& arrived) const {
  CHECK_EQ(gathered->offsets.size(), static_cast<size_t>(size_) + 1) << "every rank's offsets";
  CHECK_EQ(gathered->size(rank_), size) << "this rank's offsets";
  for (int r = 0; r < size_; ++r) check_int_count(gathered->size(r), "a rank's message");
  gathered->bytes.resize(gathered->offsets.back());
  uint8_t* bytes = gathered->bytes.data();
  if (size > 0) std::memcpy(bytes + gathered->offsets[rank_], data, size);
  arrived(rank_);
  const int next = (rank_ + 1) % size_;
  const int previous = (rank_ + size_ - 1) % size_;
  // Step s forwards the bytes of rank r - s and receives those of rank r - s - 1.
  for (int step = 0; step + 1 < size_; ++step) {
    const int sent = (rank_ - step + size_) % size_;
    const int received = (sent + size_ - 1) % size_;
    MPI_Request requests[2];
    MPI_Irecv(bytes + gathered->offsets[received], static_cast<int>(gathered->size(received)),
              MPI_BYTE, previous, kRingTag, MPI_COMM_WORLD, &requests[0]);
    MPI_Isend(bytes + gathered->offsets[sent], static_cast<int>(gathered->size(sent)), MPI_BYTE,
              next, kRingTag, MPI_COMM_WORLD, &requests[1]);
    wait_sleeping(requests, 2);
    arrived(received);
  }
}

Gathered MpiContext::GatherToRoot(const uint8_t* data, size_t size) const {
  Gathered gathered;
  const std::vector<size_t> offsets = GatherSizes(size);
  check_int_count(offsets.back(), "a gather");
  if (rank_ == 0) {
    gathered.offsets = offsets;
    gathered.bytes.resize(offsets.back());
  }
  const std::vector<int> counts = int_counts(offsets);
  const std::vector<int> displacements = int_displacements(offsets);
  MPI_Gatherv(data, static_cast<int>(size), MPI_BYTE, gathered.bytes.data(), counts.data(),
              displacements.data(), MPI_BYTE, 0, MPI_COMM_WORLD);
  return gathered;
}

void MpiContext::Broadcast(void* data, size_t size) const {
  auto* bytes = static_cast<uint8_t*>(data);
  for (size_t done = 0; done < size; done += kMaxPiece) {
    const size_t piece = std::min(kMaxPiece, size - done);
    MPI_Bcast(bytes + done, static_cast<int>(piece), MPI_BYTE, 0, MPI_COMM_WORLD);
  }
}

}  // namespace caffe
