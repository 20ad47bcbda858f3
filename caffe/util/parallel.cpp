#include "caffe/util/parallel.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {

// Persistent helper threads for parallel_for.  One call at a time (calls_ serialises callers):
// run() publishes the task under a new generation number, each helper whose chunk exists runs it
// and counts itself done, and run() waits for the count.  The pool only grows, so calls with
// different chunk counts never start or join threads.
class WorkerPool {
 public:
  ~WorkerPool() { Stop(); }

  // Runs task(i) for i in [0, chunks) with chunks - 1 helpers; the caller takes chunk 0.
  void Run(int chunks, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> call(calls_);
    Grow(chunks - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      chunks_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    task(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void Grow(int helpers) {
    // Read here, under calls_: Run bumps generation_ only after Grow returns.
    const uint64_t current = generation_;
    for (int i = static_cast<int>(threads_.size()) + 1; i <= helpers; ++i) {
      threads_.emplace_back([this, i, current] { Work(i, current); });
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  void Work(int chunk, uint64_t seen) {
    while (true) {
      const std::function<void(int)>* task = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (chunk >= chunks_) continue;  // this call has fewer chunks than helpers
        task = task_;
      }
      (*task)(chunk);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --pending_;
      }
      done_.notify_one();
    }
  }

  std::mutex calls_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* task_ = nullptr;
  uint64_t generation_ = 0;
  int chunks_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

WorkerPool& pool() {
  static WorkerPool instance;
  return instance;
}

}  // namespace

void parallel_for(long long count, long long min_chunk,
                  const std::function<void(long long, long long)>& fn) {
  CHECK_GE(min_chunk, 1);
  const long long most_chunks = count / min_chunk;
  const int chunks = static_cast<int>(std::min<long long>(blas_threads(), most_chunks));
  if (chunks < 2) {
    if (count > 0) fn(0, count);
    return;
  }
  // Chunk boundaries rounded to 16 elements, so no two threads write one cache line.
  const long long per_chunk = (count / chunks + 15) / 16 * 16;
  pool().Run(chunks, [&](int chunk) {
    const long long begin = std::min(count, chunk * per_chunk);
    const long long end = chunk == chunks - 1 ? count : std::min(count, begin + per_chunk);
    if (begin < end) fn(begin, end);
  });
}

void parallel_parts(int parts, const std::function<void(int)>& fn) {
  if (parts < 2) {
    if (parts == 1) fn(0);
    return;
  }
  pool().Run(parts, fn);
}

}  // namespace caffe
