// DatumPrefetcher: a background thread that reads batches of Datum records ahead of their use.
// Batch b is whatever its DatumBatchReader makes of index b (a pure function of b, so training
// is reproducible and resumes exactly).  The thread reads b, b+1, ... into a bounded queue;
// asking for any other batch discards the queue and restarts the reader there.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "proto/caffe.pb.h"

namespace caffe {

struct DatumBatch {
  uint64_t index = 0;
  std::vector<Datum> datums;  // raw (decoded) datums
};

// Where batches come from.  Read is called on the prefetch thread only, one call at a time.
class DatumBatchReader {
 public:
  virtual ~DatumBatchReader() = default;
  // Fills batch `index` (batch->index is set by the caller); errors are caffe::Errors.
  virtual void Read(uint64_t index, DatumBatch* batch) = 0;
};

class DatumPrefetcher {
 public:
  // Reads up to `depth` batches ahead with `reader`.
  DatumPrefetcher(std::unique_ptr<DatumBatchReader> reader, size_t depth);
  // Stops the thread and waits for it.
  ~DatumPrefetcher();
  DatumPrefetcher(const DatumPrefetcher&) = delete;
  DatumPrefetcher& operator=(const DatumPrefetcher&) = delete;

  // Returns batch `index`, waiting for the thread if needed.  Read errors (a corrupt record,
  // with its key) are thrown here, for the batch that holds the bad record.
  DatumBatch Take(uint64_t index);

 private:
  // A queue entry: a batch, or the error that stopped its reading.
  struct Entry {
    DatumBatch batch;
    std::exception_ptr error;
  };
  // queue_start_ after an error was handed out: the next request, whatever it is, restarts.
  static constexpr uint64_t kNoBatch = ~uint64_t{0};

  void Run();

  const std::unique_ptr<DatumBatchReader> reader_;  // used only by the thread
  const size_t depth_;

  std::mutex mutex_;
  std::condition_variable ready_;  // the consumer waits for an entry
  std::condition_variable space_;  // the thread waits for room or a restart
  std::deque<Entry> queue_;
  uint64_t queue_start_ = 0;  // index of queue_.front(), or of the next entry pushed
  uint64_t next_to_read_ = 0;
  uint64_t generation_ = 0;  // bumped on restart: batches read for older ones are dropped
  bool halted_ = false;      // an error stopped reading until the next restart
  bool stopping_ = false;
  std::thread thread_;  // last member: starts after the state above exists
};

}  // namespace caffe
