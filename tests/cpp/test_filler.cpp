// Tests of the weight fillers: value ranges, moments, variance scaling, reproducible streams.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/core/filler.hpp"

namespace caffe {
namespace {

FillerParameter filler(const std::string& type) {
  FillerParameter param;
  param.set_type(type);
  return param;
}

struct Moments {
  double mean = 0;
  double variance = 0;
};

Moments moments_of(const Blob& blob) {
  Moments result;
  const float* values = blob.cpu_data();
  for (int i = 0; i < blob.count(); ++i) result.mean += values[i];
  result.mean /= blob.count();
  for (int i = 0; i < blob.count(); ++i) {
    result.variance += (values[i] - result.mean) * (values[i] - result.mean);
  }
  result.variance /= blob.count();
  return result;
}

std::vector<float> values_of(const Blob& blob) {
  return {blob.cpu_data(), blob.cpu_data() + blob.count()};
}

class FillerTest : public testing::Test {
 protected:
  void SetUp() override {
    saved_seed_ = random_seed();
    set_random_seed(1234);
  }
  void TearDown() override { set_random_seed(saved_seed_); }

 private:
  uint64_t saved_seed_ = 0;
};

TEST_F(FillerTest, ConstantFillsTheValue) {
  Blob blob({3, 4});
  FillerParameter param = filler("constant");
  param.set_value(2.5f);
  fill_blob(param, &blob, 1);
  for (float v : values_of(blob)) EXPECT_EQ(v, 2.5f);
  fill_blob(FillerParameter(), &blob, 1);  // the default filler is constant 0
  for (float v : values_of(blob)) EXPECT_EQ(v, 0.0f);
}

TEST_F(FillerTest, UniformStaysInRangeWithTheRightMoments) {
  Blob blob({100, 200});
  FillerParameter param = filler("uniform");
  param.set_min(-3.0f);
  param.set_max(1.0f);
  fill_blob(param, &blob, 2);
  for (float v : values_of(blob)) {
    ASSERT_GE(v, -3.0f);
    ASSERT_LE(v, 1.0f);
  }
  const Moments m = moments_of(blob);
  EXPECT_NEAR(m.mean, -1.0, 0.03);
  EXPECT_NEAR(m.variance, 16.0 / 12.0, 0.03);
}

TEST_F(FillerTest, GaussianHasTheRequestedMeanAndStd) {
  Blob blob({100, 200});
  FillerParameter param = filler("gaussian");
  param.set_mean(1.5f);
  param.set_std(0.5f);
  fill_blob(param, &blob, 3);
  const Moments m = moments_of(blob);
  EXPECT_NEAR(m.mean, 1.5, 0.01);
  EXPECT_NEAR(std::sqrt(m.variance), 0.5, 0.01);
}

// Variance of the variance-scaling fillers for a [40, 50, 2, 2] weight: fan_in = 200,
// fan_out = 160, average = 180.
double scaled_variance(const std::string& type, FillerParameter::VarianceNorm norm) {
  Blob blob({40, 50, 2, 2});
  FillerParameter param = filler(type);
  param.set_variance_norm(norm);
  fill_blob(param, &blob, 4);
  return moments_of(blob).variance;
}

TEST_F(FillerTest, XavierVarianceIsOneOverN) {
  EXPECT_NEAR(scaled_variance("xavier", FillerParameter::FAN_IN) * 200, 1.0, 0.05);
  EXPECT_NEAR(scaled_variance("xavier", FillerParameter::FAN_OUT) * 160, 1.0, 0.05);
  EXPECT_NEAR(scaled_variance("xavier", FillerParameter::AVERAGE) * 180, 1.0, 0.05);
  Blob blob({40, 200});
  fill_blob(filler("xavier"), &blob, 5);
  const float bound = std::sqrt(3.0f / 200);
  for (float v : values_of(blob)) ASSERT_LE(std::fabs(v), bound);
}

TEST_F(FillerTest, MsraVarianceIsTwoOverN) {
  EXPECT_NEAR(scaled_variance("msra", FillerParameter::FAN_IN) * 200 / 2, 1.0, 0.05);
  EXPECT_NEAR(scaled_variance("msra", FillerParameter::FAN_OUT) * 160 / 2, 1.0, 0.05);
  EXPECT_NEAR(scaled_variance("msra", FillerParameter::AVERAGE) * 180 / 2, 1.0, 0.05);
}

TEST_F(FillerTest, PositiveUnitballRowsArePositiveAndSumToOne) {
  Blob blob({7, 3, 5});
  fill_blob(filler("positive_unitball"), &blob, 6);
  for (int row = 0; row < 7; ++row) {
    double sum = 0;
    for (int i = 0; i < 15; ++i) {
      const float v = blob.cpu_data()[row * 15 + i];
      EXPECT_GT(v, 0.0f);
      sum += v;
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << row;
  }
}

TEST_F(FillerTest, SparseGaussianKeepsSparseWeightsPerInput) {
  // As documented in Caffe: `sparse` is the expected number of non-zero weights an input has,
  // i.e. each weight of a [num_output, K] blob is kept with probability sparse / num_output.
  Blob blob({200, 300});
  FillerParameter param = filler("gaussian");
  param.set_sparse(20);
  fill_blob(param, &blob, 7);
  int nonzero = 0;
  for (float v : values_of(blob)) nonzero += v != 0.0f;
  EXPECT_NEAR(static_cast<double>(nonzero) / blob.count(), 0.1, 0.01);
}

TEST_F(FillerTest, SameSeedAndStreamRepeat) {
  Blob first({50}), second({50}), other_stream({50}), other_seed({50});
  const FillerParameter param = filler("gaussian");
  fill_blob(param, &first, 8);
  fill_blob(param, &second, 8);
  fill_blob(param, &other_stream, 9);
  set_random_seed(4321);
  fill_blob(param, &other_seed, 8);
  EXPECT_EQ(values_of(first), values_of(second));
  EXPECT_NE(values_of(first), values_of(other_stream));
  EXPECT_NE(values_of(first), values_of(other_seed));
}

TEST_F(FillerTest, FillerStreamsDifferByLayerAndBlob) {
  EXPECT_EQ(filler_stream("ip1", 0), filler_stream("ip1", 0));
  EXPECT_NE(filler_stream("ip1", 0), filler_stream("ip1", 1));
  EXPECT_NE(filler_stream("ip1", 0), filler_stream("ip2", 0));
  EXPECT_NE(filler_stream("", 0), filler_stream("", 1));
}

TEST_F(FillerTest, UnknownTypeIsAnError) {
  Blob blob({2});
  try {
    fill_blob(filler("bilinear_typo"), &blob, 1);
    FAIL() << "expected a caffe::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'bilinear_typo'"), std::string::npos) << message;
    EXPECT_NE(message.find("xavier"), std::string::npos) << message;
  }
}

TEST_F(FillerTest, InvalidParametersAreErrors) {
  Blob blob({2, 2});
  FillerParameter uniform = filler("uniform");
  uniform.set_min(1.0f);
  uniform.set_max(0.0f);
  EXPECT_THROW(fill_blob(uniform, &blob, 1), Error);
  FillerParameter gaussian = filler("gaussian");
  gaussian.set_std(-1.0f);
  EXPECT_THROW(fill_blob(gaussian, &blob, 1), Error);
  gaussian.set_std(0.0f);
  EXPECT_THROW(fill_blob(gaussian, &blob, 1), Error);
  gaussian.set_std(1.0f);
  gaussian.set_sparse(-2);
  EXPECT_THROW(fill_blob(gaussian, &blob, 1), Error);
}

TEST_F(FillerTest, EmptyBlobIsFine) {
  Blob blob({0, 5});
  for (const char* type : {"constant", "uniform", "gaussian", "xavier", "msra", "positive_unitball"}) {
    EXPECT_NO_THROW(fill_blob(filler(type), &blob, 1)) << type;
  }
}

}  // namespace
}  // namespace caffe
