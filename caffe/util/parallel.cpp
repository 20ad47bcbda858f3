#include "caffe/util/parallel.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {

// Chunks per thread: when one thread starts late or is descheduled, the others take over all
// but the chunk it holds.
constexpr int kChunksPerThread = 4;

// Persistent helper threads for parallel_for.  One call at a time (calls_ serialises callers).
// Run() publishes a Job under a new generation number and claims chunks itself; a helper that
// wakes while the job is published joins it (counted in `users`) and claims chunks too.  When the
// caller runs out of chunks it withdraws the job and waits only for the helpers that joined, each
// of which finishes the chunk it holds.  The pool only grows, so calls with different chunk counts
// never start or join threads.
class WorkerPool {
 public:
  ~WorkerPool() { Stop(); }

  // Runs task(i) for every i in [0, chunks), with up to `helpers` helper threads.
  void Run(int chunks, int helpers, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> call(calls_);
    Grow(helpers);
    Job job{&task, chunks, helpers};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    job.ClaimChunks();
    std::unique_lock<std::mutex> lock(mutex_);
    job_ = nullptr;  // helpers that wake from now on find nothing to do
    done_.wait(lock, [&] { return job.users == 0; });
  }

 private:
  struct Job {
    const std::function<void(int)>* task;
    int chunks;
    std::atomic<int> next{0};
    int most_helpers;
    int joined = 0;  // helpers that took part, under mutex_ (at most most_helpers)
    int users = 0;   // helpers inside ClaimChunks, under mutex_

    Job(const std::function<void(int)>* task, int chunks, int most_helpers)
        : task(task), chunks(chunks), most_helpers(most_helpers) {}
    void ClaimChunks() {
      for (int chunk = next.fetch_add(1); chunk < chunks; chunk = next.fetch_add(1)) {
        (*task)(chunk);
      }
    }
  };

  void Grow(int helpers) {
    // Read here, under calls_: Run bumps generation_ only after Grow returns.
    const uint64_t current = generation_;
    while (static_cast<int>(threads_.size()) < helpers) {
      threads_.emplace_back([this, current] { Work(current); });
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

  void Work(uint64_t seen) {
    while (true) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        // Nothing to do when the caller already ran out of chunks, or when this call wants fewer
        // threads than the pool holds.
        if (!job_ || job_->joined == job_->most_helpers) continue;
        job = job_;
        ++job->joined;
        ++job->users;
      }
      job->ClaimChunks();
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        last = --job->users == 0;
      }
      if (last) done_.notify_one();
    }
  }

  std::mutex calls_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> threads_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
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
  const int threads = blas_threads();
  const long long most_chunks = count / min_chunk;
  const int chunks = static_cast<int>(
      std::min<long long>(static_cast<long long>(threads) * kChunksPerThread, most_chunks));
  if (chunks < 2 || threads < 2) {
    if (count > 0) fn(0, count);
    return;
  }
  // Chunk boundaries rounded to 16 elements, so no two threads write one cache line; the last
  // chunk takes what is left.
  const long long per_chunk = ((count + chunks - 1) / chunks + 15) / 16 * 16;
  const int used_chunks = static_cast<int>((count + per_chunk - 1) / per_chunk);
  pool().Run(used_chunks, std::min(threads, used_chunks) - 1, [&](int chunk) {
    const long long begin = chunk * per_chunk;
    fn(begin, std::min(count, begin + per_chunk));
  });
}

void parallel_parts(int parts, const std::function<void(int)>& fn) {
  if (parts < 2) {
    if (parts == 1) fn(0);
    return;
  }
  pool().Run(parts, parts - 1, fn);
}

}  // namespace caffe
