// parallel_for (caffe/util/parallel.hpp) and the integer form of the dropout draw
// (uniform_bits_threshold in caffe/core/common.hpp) that the parallel Dropout loop uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/util/parallel.hpp"
#include "caffe/util/random.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

// Restores the BLAS thread count a test changed.
TEST(ParallelForTest, CoversEveryIndexExactlyOnce) {
  test::ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_blas_threads(threads);
    // 40 gives 2 chunks at 3 threads: a helper without a chunk must sit the call out.
    for (long long count : {0LL, 1LL, 17LL, 40LL, 1000LL, 65543LL}) {
      std::vector<std::atomic<int>> visits(count);
      std::atomic<int> calls{0}, short_chunks{0};
      parallel_for(count, 16, [&](long long begin, long long end) {
        ++calls;
        EXPECT_LT(begin, end);
        if (end - begin < 16 && end != count) ++short_chunks;  // only the last may be short
        for (long long i = begin; i < end; ++i) ++visits[i];
      });
      for (long long i = 0; i < count; ++i) ASSERT_EQ(visits[i], 1) << threads << " " << count;
      EXPECT_EQ(short_chunks, 0) << threads << " " << count;
      // Up to four chunks per thread, at least min_chunk (16) long; one thread, or room for
      // one chunk only, runs inline.
      if (threads == 1 || count < 32) {
        EXPECT_EQ(calls, count > 0 ? 1 : 0) << threads << " " << count;
      } else {
        EXPECT_GE(calls, 2) << threads << " " << count;
        EXPECT_LE(calls, 4 * threads) << threads << " " << count;
      }
    }
  }
}

TEST(ParallelForTest, HelpersTakeChunks) {
  test::ThreadCountGuard guard;
  set_blas_threads(2);
  const auto caller = std::this_thread::get_id();
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::atomic<int> helper_chunks{0};
    std::atomic<bool> gave_up{false};
    parallel_for(1 << 12, 64, [&](long long begin, long long) {
      if (std::this_thread::get_id() != caller) {
        ++helper_chunks;
        return;
      }
      if (begin != 0) return;
      // The caller holds its first chunk until a helper has run one: the helper must join the
      // call and claim chunks (the deadline only keeps a broken pool from hanging the test).
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (helper_chunks == 0 && !gave_up) {
        if (std::chrono::steady_clock::now() > deadline) gave_up = true;
        std::this_thread::yield();
      }
    });
    EXPECT_FALSE(gave_up);
    EXPECT_GE(helper_chunks, 1);
  }
}

TEST(ParallelForTest, CallerRunsTheChunksWhileAHelperIsHeldUp) {
  test::ThreadCountGuard guard;
  set_blas_threads(2);
  const auto caller = std::this_thread::get_id();
  // 8 chunks on 2 threads.  A helper that joins is held inside its first chunk until the caller
  // has run every other chunk: the caller must claim them itself instead of waiting.
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::atomic<int> caller_chunks{0}, helper_chunks{0};
    std::atomic<bool> gave_up{false};
    parallel_for(8 * 64, 64, [&](long long begin, long long end) {
      EXPECT_EQ(end - begin, 64) << begin;
      if (std::this_thread::get_id() == caller) {
        ++caller_chunks;
        return;
      }
      ++helper_chunks;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (caller_chunks + helper_chunks < 8 && !gave_up) {
        if (std::chrono::steady_clock::now() > deadline) gave_up = true;
        std::this_thread::yield();
      }
    });
    EXPECT_FALSE(gave_up);
    EXPECT_EQ(caller_chunks + helper_chunks, 8);
    EXPECT_LE(helper_chunks, 1);  // held up in its first chunk, the helper claims no other
  }
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
