#include "caffe/data/datum_prefetcher.hpp"

#include <utility>

#include "caffe/core/common.hpp"

namespace caffe {

DatumPrefetcher::DatumPrefetcher(std::unique_ptr<DatumBatchReader> reader, size_t depth)
    : reader_(std::move(reader)), depth_(depth) {
  if (depth_ == 0) fail("the prefetch depth must be positive");
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
      space_.wait(lock, [this] { return stopping_ || (!halted_ && queue_.size() < depth_); });
      if (stopping_) return;
      index = next_to_read_++;
      generation = generation_;
    }
    Entry entry;
    try {
      entry.batch.index = index;
      reader_->Read(index, &entry.batch);
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

}  // namespace caffe
