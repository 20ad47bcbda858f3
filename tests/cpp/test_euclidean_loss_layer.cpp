#include <gtest/gtest.h>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

TEST(EuclideanLossLayerTest, HalfMeanSquaredDistance) {
  LayerFixture f(R"(type: "EuclideanLoss")", {{2, 2}, {2, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {1, 2, 3, 4});
  test::set_values(f.bottom.ptrs[1], {0, 0, 1, 1});
  f.setup();
  const float loss = f.forward();
  // (1 + 4 + 4 + 9) / (2 * 2)
  EXPECT_FLOAT_EQ(f.top_data()[0], 4.5f);
  EXPECT_FLOAT_EQ(loss, 4.5f);
}

TEST(EuclideanLossLayerTest, GradientsOfBothBottoms) {
  LayerFixture f(R"(type: "EuclideanLoss")", {{3, 2, 2}, {3, 4}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 61);
  test::fill_gaussian(f.bottom.ptrs[1], 62);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

TEST(EuclideanLossLayerTest, GradientWithLossWeight) {
  LayerFixture f(R"(type: "EuclideanLoss" loss_weight: 0.5)", {{4, 3}, {4, 3}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 63);
  test::fill_gaussian(f.bottom.ptrs[1], 64);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

TEST(EuclideanLossLayerTest, ShapeMismatchIsAnError) {
  LayerFixture f(R"(type: "EuclideanLoss")", {{2, 3}, {2, 4}}, 1);
  test::expect_error([&] { f.setup(); }, {"2 3 (6)", "2 4 (8)"});
  LayerFixture batch(R"(type: "EuclideanLoss")", {{2, 3}, {3, 2}}, 1);
  test::expect_error([&] { batch.setup(); }, {"first dimension"});
}

TEST(EuclideanLossLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  test::check_gpu_matches_cpu(R"(type: "EuclideanLoss")", {{5, 7}, {5, 7}}, [](BlobVec& bottom) {
    test::fill_gaussian(bottom[0], 65);
    test::fill_gaussian(bottom[1], 66);
  });
}

}  // namespace
}  // namespace caffe
