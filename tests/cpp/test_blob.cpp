#include <gtest/gtest.h>

#include <climits>
#include <string>

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

TEST(BlobTest, DiffAbsSumNoteHoldsUntilTheDiffIsWrittenOrTaken) {
  Blob blob({4});
  Blob other({4});
  EXPECT_FALSE(blob.take_diff_abs_sum().has_value());  // never noted
  blob.mutable_cpu_diff()[0] = 1.0f;
  blob.note_diff_abs_sum(2.5);
  const float* read = blob.cpu_diff();  // reading keeps the note
  EXPECT_EQ(read[0], 1.0f);
  EXPECT_EQ(blob.take_diff_abs_sum(), 2.5);
  EXPECT_FALSE(blob.take_diff_abs_sum().has_value());  // taken: cleared

  blob.note_diff_abs_sum(3.0);
  blob.mutable_cpu_diff();  // a writer since the note: stale
  EXPECT_FALSE(blob.take_diff_abs_sum().has_value());

  blob.note_diff_abs_sum(3.0);
  blob.ShareDiff(other);  // another storage: stale
  EXPECT_FALSE(blob.take_diff_abs_sum().has_value());

  blob.note_diff_abs_sum(3.0);
  blob.Reshape({64});  // a new allocation: stale
  EXPECT_FALSE(blob.take_diff_abs_sum().has_value());
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

// Found by fuzzing a mean file: the product of a refused shape overflowed in its error message.
TEST(BlobTest, ShapeStringOfAnOverflowingShapeSaysSo) {
  EXPECT_EQ(shape_string({2, 3}), "2 3 (6)");
  EXPECT_EQ(shape_string({INT_MAX, INT_MAX, INT_MAX}),
            "2147483647 2147483647 2147483647 (a product beyond 64 bits)");
  Blob blob;
  const std::string message = test::error_of([&] { blob.Reshape({INT_MAX, INT_MAX, INT_MAX}); });
  EXPECT_NE(message.find("beyond 64 bits"), std::string::npos) << message;
}

TEST(BlobTest, HostMemoryLimitRefusesAllocationsPastIt) {
  const size_t before = host_memory_in_use();
  const size_t previous_limit = host_memory_limit();
  set_host_memory_limit(before + 4096);
  {
    Blob small({256});  // 1 KiB
    small.mutable_cpu_data();
    EXPECT_GT(host_memory_in_use(), before);
    Blob large({4096});  // 16 KiB: past the limit
    const std::string message = test::error_of([&] { large.mutable_cpu_data(); });
    EXPECT_NE(message.find("over the limit"), std::string::npos) << message;
  }
  set_host_memory_limit(previous_limit);
  EXPECT_EQ(host_memory_in_use(), before);
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
