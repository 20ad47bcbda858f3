// parallel_for (caffe/util/parallel.hpp) and the integer form of the dropout draw
// (uniform_bits_threshold in caffe/core/common.hpp) that the parallel Dropout loop uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/util/parallel.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

// Restores the BLAS thread count a test changed.
struct ThreadCountGuard {
  int saved = blas_threads();
  ~ThreadCountGuard() { set_blas_threads(saved); }
};

TEST(ParallelForTest, CoversEveryIndexExactlyOnce) {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_blas_threads(threads);
    // 40 gives 2 chunks at 3 threads: a helper without a chunk must sit the call out.
    for (long long count : {0LL, 1LL, 17LL, 40LL, 1000LL, 65543LL}) {
      std::vector<std::atomic<int>> visits(count);
      std::atomic<int> calls{0};
      parallel_for(count, 16, [&](long long begin, long long end) {
        ++calls;
        for (long long i = begin; i < end; ++i) ++visits[i];
      });
      for (long long i = 0; i < count; ++i) ASSERT_EQ(visits[i], 1) << threads << " " << count;
      // One chunk per thread, at least min_chunk (16) long; a single chunk runs inline.
      const long long chunks = std::min<long long>(threads, count / 16);
      EXPECT_EQ(calls, chunks >= 2 ? chunks : (count > 0 ? 1 : 0)) << threads << " " << count;
    }
  }
}

TEST(ParallelForTest, ChunksRunOnSeveralThreads) {
  ThreadCountGuard guard;
  set_blas_threads(2);
  std::atomic<int> other_thread{0};
  const auto caller = std::this_thread::get_id();
  for (int repeat = 0; repeat < 50; ++repeat) {
    parallel_for(1 << 12, 64, [&](long long, long long) {
      if (std::this_thread::get_id() != caller) ++other_thread;
    });
  }
  EXPECT_EQ(other_thread, 50);  // one helper chunk per call, never run by the caller
}

TEST(UniformBitsTest, ThresholdCompareEqualsTheFloatCompare) {
  const float ratios[] = {0.0f,
                          1e-9f,
                          1.0f / 16777216.0f,
                          std::nextafter(0.3f, 0.0f),
                          0.3f,
                          std::nextafter(0.3f, 1.0f),
                          1.0f / 3.0f,
                          0.5f,
                          0.7f,
                          1.0f - 1.0f / 16777216.0f,
                          1.0f};
  for (float ratio : ratios) {
    const uint32_t threshold = uniform_bits_threshold(ratio);
    for (uint64_t i = 0; i < 200000; ++i) {
      ASSERT_EQ(uniform_bits_at(7, i) >= threshold, uniform_at(7, i) >= ratio) << ratio << " " << i;
    }
    // Exhaustively near the threshold, where a rounding slip would show.
    for (int64_t m = static_cast<int64_t>(threshold) - 3; m <= threshold + 3; ++m) {
      if (m < 0 || m >= (1 << 24)) continue;
      const float u = static_cast<float>(m) * (1.0f / 16777216.0f);
      ASSERT_EQ(static_cast<uint32_t>(m) >= threshold, u >= ratio) << ratio << " " << m;
    }
  }
}

}  // namespace
}  // namespace caffe
