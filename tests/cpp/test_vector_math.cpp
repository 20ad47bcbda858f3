// vector_exp / vector_sigmoid / vector_tanh (caffe/util/vector_math.hpp) against the double
// library functions over their whole useful range, at the clamp limits and for NaN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "caffe/util/vector_math.hpp"

namespace caffe {
namespace {

TEST(VectorMathTest, ExpWithinTwoUlpOverTheFloatRange) {
  const double ulp = std::numeric_limits<float>::epsilon();
  double worst = 0.0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double expected = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(vector_exp(x) - expected) / expected);
  }
  EXPECT_LT(worst, 2.0 * ulp);
  EXPECT_EQ(vector_exp(0.0f), 1.0f);
  EXPECT_NEAR(vector_exp(1.0f), 2.718281828, 3e-7);
}

TEST(VectorMathTest, ExpClampsOutOfRangeArgumentsAndKeepsNaN) {
  // Below e^-87 the result stays at about the smallest normal float; above e^88 it stays finite.
  EXPECT_NEAR(vector_exp(-1000.0f) / std::exp(-87.0), 1.0, 1e-6);
  EXPECT_NEAR(vector_exp(1000.0f) / std::exp(88.0), 1.0, 1e-6);
  EXPECT_TRUE(std::isfinite(vector_exp(std::numeric_limits<float>::infinity())));
  EXPECT_TRUE(std::isnan(vector_exp(std::numeric_limits<float>::quiet_NaN())));
}

TEST(VectorMathTest, SigmoidAndTanhWithinAFewTenMillionths) {
  double sigmoid_error = 0.0, tanh_error = 0.0;
  for (float x = -30.0f; x <= 30.0f; x += 0.00731f) {
    const double exact = x;
    sigmoid_error =
        std::max(sigmoid_error, std::fabs(vector_sigmoid(x) - 1.0 / (1.0 + std::exp(-exact))));
    tanh_error = std::max(tanh_error, std::fabs(vector_tanh(x) - std::tanh(exact)));
  }
  EXPECT_LT(sigmoid_error, 2e-7);
  EXPECT_LT(tanh_error, 3e-7);
  // Saturation: exactly 0 / 1 and ±1, never NaN.
  EXPECT_EQ(vector_sigmoid(200.0f), 1.0f);
  EXPECT_GE(vector_sigmoid(-200.0f), 0.0f);
  EXPECT_LT(vector_sigmoid(-200.0f), 1e-37f);
  EXPECT_EQ(vector_tanh(100.0f), 1.0f);
  EXPECT_EQ(vector_tanh(-100.0f), -1.0f);
  EXPECT_EQ(vector_tanh(0.0f), 0.0f);
}

}  // namespace
}  // namespace caffe
