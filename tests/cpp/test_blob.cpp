#include <gtest/gtest.h>

#include "caffe/core/blob.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

TEST(BlobTest, ReshapeReusesCapacity) {
  Blob blob({2, 3, 4});
  EXPECT_EQ(blob.count(), 24);
  EXPECT_EQ(blob.count(1), 12);
  EXPECT_EQ(blob.shape(-1), 4);
  const float* before = blob.cpu_data();
  blob.Reshape({4, 3});
  EXPECT_EQ(blob.count(), 12);
  EXPECT_EQ(blob.cpu_data(), before);
  EXPECT_THROW(blob.shape(5), Error);
}

TEST(BlobTest, ProtoRoundTripAndLegacyDims) {
  Blob blob({2, 3});
  test::fill_gaussian(&blob, 7);
  BlobProto proto;
  blob.ToProto(&proto);
  Blob copy;
  copy.FromProto(proto);
  ASSERT_EQ(copy.shape(), blob.shape());
  for (int i = 0; i < blob.count(); ++i) EXPECT_EQ(copy.cpu_data()[i], blob.cpu_data()[i]);

  BlobProto legacy;
  legacy.set_num(1);
  legacy.set_channels(1);
  legacy.set_height(2);
  legacy.set_width(3);
  for (int i = 0; i < 6; ++i) legacy.add_data(static_cast<float>(i));
  EXPECT_TRUE(blob.ShapeEquals(legacy));
  blob.FromProto(legacy, /*reshape=*/false);
  EXPECT_EQ(blob.cpu_data()[5], 5.0f);
  Blob wrong({3, 2});
  EXPECT_THROW(wrong.FromProto(legacy, false), Error);
}

TEST(BlobTest, GpuRoundTrip) {
  SKIP_IF_NO_GPU();
  Blob blob({5});
  test::fill_gaussian(&blob, 3);
  const float first = blob.cpu_data()[0];
  blob.mutable_gpu_data();
  EXPECT_EQ(blob.cpu_data()[0], first);
}

}  // namespace
}  // namespace caffe
