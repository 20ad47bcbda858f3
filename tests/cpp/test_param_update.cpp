// run_update (caffe/solvers/param_update.hpp): the host loop with its software prefetch applies
// a rule to every element exactly as a plain loop of the functor does, bit for bit, for counts
// that end inside a cache line and that split over several threads.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "caffe/solvers/adam_solver.hpp"
#include "caffe/solvers/sgd_solver.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

// Weight, gradient and two history arrays of `count` random values.
struct Arrays {
  std::vector<float> weight, diff, history, history2;

  explicit Arrays(long long count) {
    std::mt19937 random(static_cast<unsigned>(count));
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    for (std::vector<float>* array : {&weight, &diff, &history, &history2}) {
      array->resize(count);
      for (float& x : *array) x = value(random);
    }
    for (float& x : history2) x = x * x;  // Adam's second moment is non-negative
  }
  UpdateBuffers buffers(bool second_set) {
    return {weight.data(), diff.data(), history.data(), second_set ? history2.data() : nullptr};
  }
  bool operator==(const Arrays& other) const {
    return weight == other.weight && diff == other.diff && history == other.history &&
           history2 == other.history2;
  }
};

// Runs `make(buffers)` over `count` elements through run_update and through a plain loop.
template <typename Make>
void expect_same_as_plain_loop(long long count, bool second_set, Make make) {
  Arrays prefetched(count), plain(count);
  run_update(Mode::CPU, count, make(prefetched.buffers(second_set)));
  const auto update = make(plain.buffers(second_set));
  for (long long i = 0; i < count; ++i) update(i);
  EXPECT_TRUE(prefetched == plain) << "count " << count;
}

TEST(RunUpdateTest, MatchesThePlainLoopBitForBit) {
  test::ThreadCountGuard guard;
  const RegularizedGradient gradient{0.5f, 5e-4f, false};
  for (int threads : {1, 2}) {
    set_blas_threads(threads);
    // Below one line, a tail inside the last line, and more than two parallel chunks whose
    // prefetches reach past the end of the array.
    for (long long count : {5LL, 2 * kUpdateLine + 3, 3 * kUpdateMinChunk + 7}) {
      expect_same_as_plain_loop(count, false, [&](UpdateBuffers buffers) {
        return SgdUpdate{buffers, gradient, 0.01f, 0.9f};
      });
      expect_same_as_plain_loop(count, true, [&](UpdateBuffers buffers) {
        return AdamUpdate{buffers, gradient, 0.001f, 1e-8f, 0.9f, 0.999f};
      });
    }
  }
}

}  // namespace
}  // namespace caffe
