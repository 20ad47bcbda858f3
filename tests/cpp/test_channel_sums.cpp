// ChannelSums (caffe/layers/channel_sums.hpp) on the CPU: the per-channel sums of one or two
// terms per element against a double-precision reference, on shapes that take every path (a
// channel split into several tiles, rows shorter than the eight lanes, a single channel), with
// alpha and beta, and the same bits whatever the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/layers/channel_sums.hpp"
#include "test_util.hpp"

namespace caffe {
namespace {

// Per channel, in double: Σ a·b and Σ a over outer and inner, and the sums of their magnitudes
// (what a float summation's rounding scales with).
struct Reference {
  std::vector<double> products, values, product_magnitudes, value_magnitudes;
};

Reference reference_sums(const AxisSplit& split, const std::vector<float>& a,
                         const std::vector<float>& b) {
  Reference r;
  for (auto* sums : {&r.products, &r.values, &r.product_magnitudes, &r.value_magnitudes}) {
    sums->assign(split.axis_dim, 0.0);
  }
  for (int o = 0; o < split.outer; ++o) {
    for (int c = 0; c < split.axis_dim; ++c) {
      for (int i = 0; i < split.inner; ++i) {
        const long long index = split.offset(o, c, i);
        const double product = static_cast<double>(a[index]) * b[index];
        r.products[c] += product;
        r.values[c] += a[index];
        r.product_magnitudes[c] += std::abs(product);
        r.value_magnitudes[c] += std::abs(a[index]);
      }
    }
  }
  return r;
}

// Float terms summed in float over at most kRowBlock values, then in double.
double tolerance(double magnitude) { return 1e-6 * magnitude + 1e-6; }

class ChannelSumsTest : public ::testing::TestWithParam<AxisSplit> {};

TEST_P(ChannelSumsTest, MatchesADoublePrecisionReference) {
  const AxisSplit split = GetParam();
  const int count = split.outer * split.axis_dim * split.inner;
  std::vector<float> a(count), b(count);
  test::fill_gaussian(a.data(), count, 1, 0.5f, 1.0f);
  test::fill_gaussian(b.data(), count, 2, -0.25f, 2.0f);
  const Reference ab = reference_sums(split, a, b), ba = reference_sums(split, b, a);

  ChannelSums sums;
  const float alpha = 0.5f, beta = 2.0f;
  // The products start from NaN: beta 0 overwrites; the values start from 1 and keep 2 · 1.
  std::vector<float> product_sums(split.axis_dim, std::numeric_limits<float>::quiet_NaN());
  std::vector<float> value_sums(split.axis_dim, 1.0f);
  sums.Sum(Mode::CPU, split, ProductAndValueTerms{a.data(), b.data()},
           {product_sums.data(), alpha, 0.0f}, {value_sums.data(), alpha, beta});
  std::vector<float> single(split.axis_dim, 0.0f);
  sums.Sum(Mode::CPU, split, ValueTerms{b.data()}, {single.data(), 1.0f, 0.0f});

  for (int c = 0; c < split.axis_dim; ++c) {
    EXPECT_NEAR(product_sums[c], alpha * ab.products[c], tolerance(ab.product_magnitudes[c]))
        << "channel " << c;
    EXPECT_NEAR(value_sums[c], alpha * ab.values[c] + beta, tolerance(ab.value_magnitudes[c]))
        << "channel " << c;
    EXPECT_NEAR(single[c], ba.values[c], tolerance(ba.value_magnitudes[c])) << "channel " << c;
  }
}

TEST_P(ChannelSumsTest, TheThreadCountDoesNotChangeABit) {
  test::ThreadCountGuard guard;
  const AxisSplit split = GetParam();
  const int count = split.outer * split.axis_dim * split.inner;
  std::vector<float> a(count), b(count);
  test::fill_gaussian(a.data(), count, 3);
  test::fill_gaussian(b.data(), count, 4);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    set_blas_threads(threads);
    ChannelSums sums;
    std::vector<float> first(split.axis_dim), second(split.axis_dim);
    sums.Sum(Mode::CPU, split, ProductAndValueTerms{a.data(), b.data()}, {first.data()},
             {second.data()});
    first.insert(first.end(), second.begin(), second.end());
    results.push_back(first);
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ChannelSumsTest,
    ::testing::Values(AxisSplit{3, 4, 21},      // rows with a tail after the eight lanes
                      AxisSplit{70, 2, 300},    // 16384 / 300 = 54 rows per tile: two tiles
                      AxisSplit{600, 5, 3},     // rows shorter than the lanes
                      AxisSplit{5000, 3, 1},    // one value per row
                      AxisSplit{1, 1, 70000},   // one channel, one row of 18 float blocks
                      AxisSplit{32, 64, 1024},  // a ResNet-18 activation (parallel tiles)
                      AxisSplit{2, 7, 0}));     // no elements: the sums are 0

TEST(ChannelSumsTest, NothingWantedWritesNothing) {
  const AxisSplit split{2, 3, 4};
  std::vector<float> a(24, 1.0f);
  ChannelSums sums;
  std::vector<float> untouched(3, 7.0f);
  // A one-sum functor ignores the second target.
  sums.Sum(Mode::CPU, split, ValueTerms{a.data()}, {}, {untouched.data()});
  EXPECT_EQ(untouched, std::vector<float>(3, 7.0f));
}

}  // namespace
}  // namespace caffe
