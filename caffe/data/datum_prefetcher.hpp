// DatumPrefetcher: a background thread that reads and parses batches of Datum records from an
// LMDB ahead of their use, in a fixed order so training is reproducible and resumes exactly:
//   batch b = records (skip + b * batch_size + k) mod num_records, k < batch_size, in key order.
// It reads b, b+1, ... into a bounded queue; asking for any other batch discards the queue and
// restarts the reader there.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "caffe/data/db_lmdb.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

// Parses the reader's current record into `datum` and checks it with check_datum against
// `shape` (C, H, W), or against its own shape when `shape` is empty.  Errors name the record's
// key and the database.
void read_datum(const db::LmdbReader& reader, const std::string& db_path,
                const std::vector<int>& shape, Datum* datum);

struct DatumBatch {
  uint64_t index = 0;
  std::vector<Datum> datums;
};

class DatumPrefetcher {
 public:
  struct Options {
    size_t batch_size = 1;
    uint64_t skip = 0;             // records skipped before batch 0
    size_t depth = 4;              // batches read ahead
    std::vector<int> datum_shape;  // C, H, W every record must have (check_datum)
  };

  // `num_records` is the count taken at setup; the reader errors if the database changes.
  DatumPrefetcher(std::shared_ptr<const db::LmdbEnvironment> environment, size_t num_records,
                  Options options);
  // Stops the thread and waits for it.
  ~DatumPrefetcher();
  DatumPrefetcher(const DatumPrefetcher&) = delete;
  DatumPrefetcher& operator=(const DatumPrefetcher&) = delete;

  // Returns batch `index`, waiting for the thread if needed.  Read errors (a corrupt record,
  // with its key) are thrown here, for the batch that holds the bad record.
  DatumBatch Take(uint64_t index);

  // Index of the first record of batch `index`.
  uint64_t FirstRecord(uint64_t index) const;

 private:
  // A queue entry: a batch, or the error that stopped its reading.
  struct Entry {
    DatumBatch batch;
    std::exception_ptr error;
  };
  // queue_start_ after an error was handed out: the next request, whatever it is, restarts.
  static constexpr uint64_t kNoBatch = ~uint64_t{0};

  void Run();
  void ReadBatch(uint64_t index, DatumBatch* batch);
  void SeekTo(uint64_t record);
  void Advance();

  const std::shared_ptr<const db::LmdbEnvironment> environment_;
  const size_t num_records_;
  const Options options_;

  // Used only by the thread.
  std::optional<db::LmdbReader> reader_;
  uint64_t position_ = 0;  // record index under the cursor (meaningful when reader_ is valid)

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
