#include "caffe/data/datum_prefetcher.hpp"

#include <string>
#include <utility>

#include "caffe/core/common.hpp"
#include "caffe/data/data_transformer.hpp"

namespace caffe {

void read_datum(const db::LmdbReader& reader, const std::string& db_path,
                const std::vector<int>& shape, Datum* datum) {
  const std::string_view value = reader.value();
  const auto describe = [&] {
    return "record '" + std::string(reader.key()) + "' in LMDB '" + db_path + "'";
  };
  if (!datum->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    fail(describe(), " is not a Datum (", value.size(), " bytes that do not parse)");
  }
  try {
    if (shape.empty()) {
      check_datum(*datum, datum->channels(), datum->height(), datum->width());
    } else {
      check_datum(*datum, shape[0], shape[1], shape[2]);
    }
  } catch (const Error& error) {
    fail(describe(), ": ", error.what());
  }
}

DatumPrefetcher::DatumPrefetcher(std::shared_ptr<const db::LmdbEnvironment> environment,
                                 size_t num_records, Options options)
    : environment_(std::move(environment)),
      num_records_(num_records),
      options_(std::move(options)) {
  if (num_records_ == 0) fail("LMDB '", environment_->path(), "' has no records");
  if (options_.batch_size == 0) fail("batch_size must be positive");
  if (options_.depth == 0) fail("the prefetch depth must be positive");
  if (options_.datum_shape.size() != 3) fail("the datum shape must be channels, height, width");
  thread_ = std::thread([this] { Run(); });
}

DatumPrefetcher::~DatumPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_.notify_all();
  thread_.join();
}

uint64_t DatumPrefetcher::FirstRecord(uint64_t index) const {
  // Reduced first so the product cannot overflow for any realistic batch size.
  const uint64_t records = num_records_;
  return ((index % records) * (options_.batch_size % records) + options_.skip % records) % records;
}

DatumBatch DatumPrefetcher::Take(uint64_t index) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (index != queue_start_) {
    queue_.clear();
    queue_start_ = index;
    next_to_read_ = index;
    ++generation_;
    halted_ = false;
    space_.notify_all();
  }
  ready_.wait(lock, [this] { return !queue_.empty(); });
  Entry entry = std::move(queue_.front());
  queue_.pop_front();
  queue_start_ = entry.error ? kNoBatch : index + 1;
  lock.unlock();
  space_.notify_all();
  if (entry.error) std::rethrow_exception(entry.error);
  return std::move(entry.batch);
}

void DatumPrefetcher::Run() {
  for (;;) {
    uint64_t index;
    uint64_t generation;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock,
                  [this] { return stopping_ || (!halted_ && queue_.size() < options_.depth); });
      if (stopping_) return;
      index = next_to_read_++;
      generation = generation_;
    }
    Entry entry;
    try {
      ReadBatch(index, &entry.batch);
    } catch (...) {
      entry.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (generation != generation_) continue;  // the consumer restarted elsewhere meanwhile
      halted_ = entry.error != nullptr;
      queue_.push_back(std::move(entry));
    }
    ready_.notify_all();
  }
}

void DatumPrefetcher::ReadBatch(uint64_t index, DatumBatch* batch) {
  batch->index = index;
  batch->datums.resize(options_.batch_size);
  SeekTo(FirstRecord(index));
  for (Datum& datum : batch->datums) {
    read_datum(*reader_, environment_->path(), options_.datum_shape, &datum);
    Advance();
  }
}

void DatumPrefetcher::SeekTo(uint64_t record) {
  // Consecutive batches continue where the cursor is; a jump walks from the nearest point
  // before it (LMDB cursors have no positional seek).
  if (reader_ && reader_->valid() && position_ == record) return;
  if (!reader_) reader_.emplace(*environment_);
  if (!reader_->valid() || position_ > record) {
    if (!reader_->first()) fail("LMDB '", environment_->path(), "' has become empty");
    position_ = 0;
  }
  while (position_ < record) Advance();
}

void DatumPrefetcher::Advance() {
  if (reader_->next()) {
    ++position_;
    if (position_ < num_records_) return;
  } else if (position_ + 1 == num_records_) {
    reader_->first();  // wrap around to the first record
    position_ = 0;
    return;
  }
  fail("LMDB '", environment_->path(), "' changed while being read: it had ", num_records_,
       " records at setup");
}

}  // namespace caffe
