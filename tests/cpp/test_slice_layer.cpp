#include <gtest/gtest.h>

#include <numeric>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

// Value of element (a, b, c) of a 2 x 5 x 2 blob filled with 0, 1, 2, ...
float value_at(int a, int b, int c) { return static_cast<float>((a * 5 + b) * 2 + c); }

void fill_counting(Blob* blob) {
  float* data = blob->mutable_cpu_data();
  std::iota(data, data + blob->count(), 0.0f);
}

TEST(SliceLayerTest, SlicePointsAlongAxisOne) {
  LayerFixture f(R"(type: "Slice" slice_param { axis: 1 slice_point: 1 slice_point: 3 })",
                 {{2, 5, 2}}, 3);
  fill_counting(f.bottom.ptrs[0]);
  f.setup();
  f.forward();
  const int starts[] = {0, 1, 3};
  const int lengths[] = {1, 2, 2};
  for (int t = 0; t < 3; ++t) {
    ASSERT_EQ(f.top.ptrs[t]->shape(), (std::vector<int>{2, lengths[t], 2}));
    for (int a = 0; a < 2; ++a) {
      for (int b = 0; b < lengths[t]; ++b) {
        for (int c = 0; c < 2; ++c) {
          EXPECT_EQ(f.top_data(t)[(a * lengths[t] + b) * 2 + c], value_at(a, starts[t] + b, c));
        }
      }
    }
  }
}

TEST(SliceLayerTest, EqualPartsAlongLegacySliceDimZero) {
  LayerFixture f(R"(type: "Slice" slice_param { slice_dim: 0 })", {{2, 5, 2}}, 2);
  fill_counting(f.bottom.ptrs[0]);
  f.setup();
  f.forward();
  for (int t = 0; t < 2; ++t) {
    ASSERT_EQ(f.top.ptrs[t]->shape(), (std::vector<int>{1, 5, 2}));
    for (int i = 0; i < 10; ++i) EXPECT_EQ(f.top_data(t)[i], static_cast<float>(t * 10 + i));
  }
}

TEST(SliceLayerTest, NegativeAxisEqualParts) {
  LayerFixture f(R"(type: "Slice" slice_param { axis: -1 })", {{2, 5, 2}}, 2);
  fill_counting(f.bottom.ptrs[0]);
  f.setup();
  f.forward();
  for (int t = 0; t < 2; ++t) {
    ASSERT_EQ(f.top.ptrs[t]->shape(), (std::vector<int>{2, 5, 1}));
    for (int i = 0; i < 10; ++i) EXPECT_EQ(f.top_data(t)[i], static_cast<float>(2 * i + t));
  }
}

TEST(SliceLayerTest, Errors) {
  const std::vector<std::vector<int>> shape = {{2, 5, 2}};
  LayerFixture uneven(R"(type: "Slice")", shape, 2);
  test::expect_error([&] { uneven.setup(); }, {"size 5", "2 equal parts"});
  LayerFixture count(R"(type: "Slice" slice_param { slice_point: 2 })", shape, 3);
  test::expect_error([&] { count.setup(); }, {"1 slice_point", "3 tops"});
  LayerFixture order(R"(type: "Slice" slice_param { slice_point: 3 slice_point: 2 })", shape, 3);
  test::expect_error([&] { order.setup(); }, {"slice_point #1 = 2", "previous point (3)"});
  LayerFixture past_end(R"(type: "Slice" slice_param { slice_point: 5 })", shape, 2);
  test::expect_error([&] { past_end.setup(); }, {"slice_point #0 = 5", "axis size (5)"});
  LayerFixture both(R"(type: "Slice" slice_param { axis: 1 slice_dim: 1 })", shape, 1);
  test::expect_error([&] { both.setup(); }, {"slice_dim", "not both"});
}

TEST(SliceLayerTest, Gradient) {
  LayerFixture f(R"(type: "Slice" slice_param { axis: 1 slice_point: 1 slice_point: 3 })",
                 {{2, 5, 2}}, 3);
  test::fill_gaussian(f.bottom.ptrs[0], 71);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

TEST(SliceLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) { test::fill_gaussian(bottom[0], 72); };
  test::check_gpu_matches_cpu(R"(type: "Slice" slice_param { axis: 1 slice_point: 2 })",
                              {{3, 5, 4}}, fill);
  test::check_gpu_matches_cpu(R"(type: "Slice" slice_param { axis: 2 slice_point: 1 })",
                              {{3, 5, 4}}, fill);
}

}  // namespace
}  // namespace caffe
