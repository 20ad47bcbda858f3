#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "caffe/core/common.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

// exp of {0, ln 2, ln 5} is {1, 2, 5}: the softmax is {1/8, 2/8, 5/8}.
const float kLn2 = std::log(2.0f);
const float kLn5 = std::log(5.0f);

TEST(SoftmaxLayerTest, RowsAlongAxisOneAndLargeValuesStayFinite) {
  LayerFixture f(R"(type: "Softmax")", {{2, 3}}, 1);
  // The second row is the first shifted by 200: exp(200) overflows a float without the max shift.
  test::set_values(f.bottom.ptrs[0], {0, kLn2, kLn5, 200, 200 + kLn2, 200 + kLn5});
  f.setup();
  f.forward();
  ASSERT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 3}));
  const float expected[] = {0.125f, 0.25f, 0.625f};
  for (int row = 0; row < 2; ++row) {
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(f.top_data()[row * 3 + c], expected[c], 2e-4f);
  }
}

TEST(SoftmaxLayerTest, AxisTwoOfTimeBatchVocabBlob) {
  // T = 2, N = 2, V = 3: each (t, n) row is normalised separately.
  LayerFixture f(R"(type: "Softmax" softmax_param { axis: 2 })", {{2, 2, 3}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, kLn2, kLn5,  1, 1, 1,
                                      kLn5, kLn2, 0,  -3, -3 + kLn2, -3 + kLn5});
  f.setup();
  f.forward();
  const float third = 1.0f / 3.0f;
  const std::vector<float> expected = {0.125f, 0.25f, 0.625f, third, third, third,
                                       0.625f, 0.25f, 0.125f, 0.125f, 0.25f, 0.625f};
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(f.top_data()[i], expected[i], 1e-6f) << i;
}

TEST(SoftmaxLayerTest, InterleavedColumnsWhenInnerIsLarger) {
  // Shape 1 x 3 x 2, axis 1: the two columns are {0, ln2, ln5} and {ln5, ln2, 0}.
  LayerFixture f(R"(type: "Softmax")", {{1, 3, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, kLn5, kLn2, kLn2, kLn5, 0});
  f.setup();
  f.forward();
  const std::vector<float> expected = {0.125f, 0.625f, 0.25f, 0.25f, 0.625f, 0.125f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(f.top_data()[i], expected[i], 1e-6f) << i;
}

TEST(SoftmaxLayerTest, NegativeAxisAndInPlace) {
  LayerFixture f(R"(type: "Softmax" softmax_param { axis: -1 })", {{2, 2, 3}}, 0);
  test::fill_gaussian(f.bottom.ptrs[0], 5);
  LayerFixture reference(R"(type: "Softmax" softmax_param { axis: 2 })", {{2, 2, 3}}, 1);
  test::fill_gaussian(reference.bottom.ptrs[0], 5);
  reference.setup();
  reference.forward();
  // In place: the bottom is also the top.
  f.top.ptrs.push_back(f.bottom.ptrs[0]);
  f.setup();
  f.forward();
  for (int i = 0; i < 12; ++i) {
    EXPECT_FLOAT_EQ(f.bottom.ptrs[0]->cpu_data()[i], reference.top_data()[i]);
  }
}

TEST(SoftmaxLayerTest, WideRowsOnSeveralThreadsMatchADoubleReference) {
  // 96 rows of 1003 classes: 16-wide blocks plus a tail per row, rows split over two threads.
  const int saved_threads = blas_threads();
  set_blas_threads(2);
  LayerFixture f(R"(type: "Softmax")", {{96, 1003}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 13, 0.0f, 3.0f);
  f.setup();
  f.forward();
  set_blas_threads(saved_threads);
  const float* x = f.bottom.ptrs[0]->cpu_data();
  for (int row = 0; row < 96; ++row) {
    const float* in = x + row * 1003;
    const double shift = *std::max_element(in, in + 1003);
    double sum = 0.0;
    for (int c = 0; c < 1003; ++c) sum += std::exp(in[c] - shift);
    for (int c = 0; c < 1003; ++c) {
      const double expected = std::exp(in[c] - shift) / sum;
      ASSERT_NEAR(f.top_data()[row * 1003 + c], expected, 1e-6 + 1e-6 * expected)
          << "row " << row << " class " << c;
    }
  }
}

TEST(SoftmaxLayerTest, AxisOutOfRangeIsAnError) {
  LayerFixture f(R"(type: "Softmax" softmax_param { axis: 3 })", {{2, 3, 4}}, 1);
  test::expect_error([&] { f.setup(); }, {"axis 3", "2 3 4"});
}

TEST(SoftmaxLayerTest, GradientAxisOneWithInnerColumns) {
  LayerFixture f(R"(type: "Softmax")", {{2, 4, 3}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 11);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

TEST(SoftmaxLayerTest, GradientAxisTwo) {
  LayerFixture f(R"(type: "Softmax" softmax_param { axis: 2 })", {{3, 2, 5}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 12);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

void fill_scores(BlobVec& bottom) { test::fill_gaussian(bottom[0], 21, 0.0f, 3.0f); }

TEST(SoftmaxLayerTest, GpuMatchesCpuColumns) {
  SKIP_IF_NO_GPU();
  test::check_gpu_matches_cpu(R"(type: "Softmax")", {{3, 7, 5}}, fill_scores);
}

TEST(SoftmaxLayerTest, GpuMatchesCpuRows) {
  SKIP_IF_NO_GPU();
  // 1000 classes: each block strides several times along a row.
  test::check_gpu_matches_cpu(R"(type: "Softmax" softmax_param { axis: 2 })", {{2, 3, 1000}},
                              fill_scores);
}

}  // namespace
}  // namespace caffe
