// Tests of the IDX reader and the MNIST -> LMDB conversion behind tools/convert_mnist_data.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "caffe/data/convert_mnist.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/idx_reader.hpp"
#include "test_util.hpp"

namespace caffe {
namespace {

namespace fs = std::filesystem;


void append_u32(std::string* bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    bytes->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::string idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                      const std::vector<uint8_t>& values) {
  std::string bytes;
  append_u32(&bytes, magic);
  for (uint32_t dim : dims) append_u32(&bytes, dim);
  bytes.append(values.begin(), values.end());
  return bytes;
}

void write_file(const std::string& path, const std::string& bytes, bool gzip) {
  if (!gzip) {
    std::ofstream(path, std::ios::binary) << bytes;
    return;
  }
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(file);
}

// A tiny MNIST: `count` images of 3 x 4 random pixels and labels 0..9.
struct TinyMnist {
  static constexpr uint32_t kRows = 3;
  static constexpr uint32_t kCols = 4;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;

  explicit TinyMnist(uint32_t count) {
    std::mt19937 random(11);
    pixels.resize(count * kRows * kCols);
    for (uint8_t& pixel : pixels) pixel = static_cast<uint8_t>(random());
    for (uint32_t i = 0; i < count; ++i) labels.push_back(static_cast<uint8_t>(random() % 10));
  }
  uint32_t count() const { return static_cast<uint32_t>(labels.size()); }
  std::string images_file() const {
    return idx_bytes(kIdxImagesMagic, {count(), kRows, kCols}, pixels);
  }
  std::string labels_file() const { return idx_bytes(kIdxLabelsMagic, {count()}, labels); }
};

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

void expect_database_holds(const std::string& db_path, const TinyMnist& mnist) {
  db::LmdbEnvironment environment(db_path, db::LmdbEnvironment::Access::READ_ONLY);
  ASSERT_EQ(environment.num_records(), mnist.count());
  db::LmdbReader reader(environment);
  uint32_t index = 0;
  const size_t pixels = TinyMnist::kRows * TinyMnist::kCols;
  for (bool ok = reader.first(); ok; ok = reader.next(), ++index) {
    char key[16];
    std::snprintf(key, sizeof(key), "%08u", index);
    EXPECT_EQ(reader.key(), key);
    Datum datum;
    ASSERT_TRUE(
        datum.ParseFromArray(reader.value().data(), static_cast<int>(reader.value().size())));
    EXPECT_EQ(datum.channels(), 1);
    EXPECT_EQ(datum.height(), 3);
    EXPECT_EQ(datum.width(), 4);
    EXPECT_EQ(datum.label(), mnist.labels[index]);
    EXPECT_EQ(datum.data(), std::string(mnist.pixels.begin() + index * pixels,
                                        mnist.pixels.begin() + (index + 1) * pixels));
  }
  EXPECT_EQ(index, mnist.count());
}

TEST(ConvertMnistTest, ConvertsPlainAndGzipFiles) {
  test::TempDir dir;
  const TinyMnist mnist(13);
  for (bool gzip : {false, true}) {
    const std::string suffix = gzip ? ".gz" : "";
    write_file(dir / ("images" + suffix), mnist.images_file(), gzip);
    write_file(dir / ("labels" + suffix), mnist.labels_file(), gzip);
    const std::string db_path = dir / ("db" + suffix);
    const MnistConversion done =
        convert_mnist_to_lmdb(dir / ("images" + suffix), dir / ("labels" + suffix), db_path, false);
    EXPECT_EQ(done.records, 13u);
    EXPECT_EQ(done.rows, 3u);
    EXPECT_EQ(done.cols, 4u);
    expect_database_holds(db_path, mnist);
  }
}

TEST(ConvertMnistTest, ConvertedDatabaseFeedsTheDataLayer) {
  test::TempDir dir;
  const TinyMnist mnist(5);
  write_file(dir / "images", mnist.images_file(), false);
  write_file(dir / "labels", mnist.labels_file(), false);
  convert_mnist_to_lmdb(dir / "images", dir / "labels", dir / "db", false);
  auto layer = test::make_layer("type: 'Data' data_param { source: '" + (dir / "db") +
                                "' batch_size: 2 } transform_param { scale: 0.00390625 }");
  test::BlobSet top;
  top.add({});
  top.add({});
  layer->SetUp({}, top.ptrs);
  layer->set_step(0, 2);  // records 4 and 0
  layer->Forward({}, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->shape(), (std::vector<int>{2, 1, 3, 4}));
  EXPECT_FLOAT_EQ(top.ptrs[0]->cpu_data()[0], mnist.pixels[4 * 12] / 256.0f);
  EXPECT_FLOAT_EQ(top.ptrs[0]->cpu_data()[12], mnist.pixels[0] / 256.0f);
  EXPECT_EQ(top.ptrs[1]->cpu_data()[0], mnist.labels[4]);
  EXPECT_EQ(top.ptrs[1]->cpu_data()[1], mnist.labels[0]);
}

TEST(ConvertMnistTest, TruncatedOrOverlongFilesReportSizes) {
  test::TempDir dir;
  const TinyMnist mnist(7);  // images: 16 header + 7 * 12 = 100 bytes
  std::string images = mnist.images_file();
  ASSERT_EQ(images.size(), 100u);
  write_file(dir / "labels", mnist.labels_file(), false);
  for (bool gzip : {false, true}) {
    const std::string path = dir / (gzip ? "short.gz" : "short");
    write_file(path, images.substr(0, 95), gzip);
    const std::string message = error_of([&] { read_idx_file(path, kIdxImagesMagic); });
    EXPECT_NE(message.find("'" + path + "' is truncated"), std::string::npos) << message;
    EXPECT_NE(message.find("means 100 bytes, found 95"), std::string::npos) << message;
  }
  write_file(dir / "long", images + "xyz", false);
  const std::string message = error_of([&] { read_idx_file(dir / "long", kIdxImagesMagic); });
  EXPECT_NE(message.find("too long"), std::string::npos) << message;
  EXPECT_NE(message.find("found 103"), std::string::npos) << message;
  // A gzip stream cut short is an error too (the data it still yields are too few).
  write_file(dir / "whole.gz", images, true);
  const std::string compressed = read_file(dir / "whole.gz");
  write_file(dir / "cut.gz", compressed.substr(0, compressed.size() / 2), false);
  const std::string cut = error_of([&] { read_idx_file(dir / "cut.gz", kIdxImagesMagic); });
  EXPECT_NE(cut.find(dir / "cut.gz"), std::string::npos) << cut;
  // Nothing is written when an input is bad.
  EXPECT_FALSE(error_of([&] {
                 convert_mnist_to_lmdb(dir / "short", dir / "labels", dir / "db", false);
               }).empty());
  EXPECT_FALSE(fs::exists(dir / "db"));
}

TEST(ConvertMnistTest, MagicNumbersAndCountsAreChecked) {
  test::TempDir dir;
  const TinyMnist mnist(6);
  write_file(dir / "images", mnist.images_file(), false);
  write_file(dir / "labels", mnist.labels_file(), false);
  const std::string swapped =
      error_of([&] { convert_mnist_to_lmdb(dir / "labels", dir / "images", dir / "db", false); });
  EXPECT_NE(swapped.find("magic number 2049"), std::string::npos) << swapped;
  EXPECT_NE(swapped.find("swapped"), std::string::npos) << swapped;
  write_file(dir / "other", idx_bytes(0x0D03, {1, 1, 1}, {0, 0, 0, 0}), false);
  EXPECT_NE(
      error_of([&] { read_idx_file(dir / "other", kIdxImagesMagic); }).find("magic number 3331"),
      std::string::npos);
  const TinyMnist fewer(5);
  write_file(dir / "fewer_labels", fewer.labels_file(), false);
  const std::string counts = error_of(
      [&] { convert_mnist_to_lmdb(dir / "images", dir / "fewer_labels", dir / "db", false); });
  EXPECT_NE(counts.find("holds 6 images but"), std::string::npos) << counts;
  EXPECT_NE(counts.find("holds 5 labels"), std::string::npos) << counts;
  const std::string missing = error_of([&] { read_idx_file(dir / "nope", kIdxLabelsMagic); });
  EXPECT_NE(missing.find("cannot open '" + (dir / "nope") + "'"), std::string::npos) << missing;
}

TEST(ConvertMnistTest, ExistingOutputNeedsOverwriteAndMustBeAnLmdb) {
  test::TempDir dir;
  const TinyMnist mnist(4);
  write_file(dir / "images", mnist.images_file(), false);
  write_file(dir / "labels", mnist.labels_file(), false);
  const TinyMnist more(9);
  write_file(dir / "more_images", more.images_file(), false);
  write_file(dir / "more_labels", more.labels_file(), false);
  convert_mnist_to_lmdb(dir / "more_images", dir / "more_labels", dir / "db", false);
  const std::string exists =
      error_of([&] { convert_mnist_to_lmdb(dir / "images", dir / "labels", dir / "db", false); });
  EXPECT_NE(exists.find("already exists; pass --overwrite"), std::string::npos) << exists;
  // Overwriting replaces the old records entirely (9 -> 4).
  EXPECT_EQ(convert_mnist_to_lmdb(dir / "images", dir / "labels", dir / "db", true).records, 4u);
  expect_database_holds(dir / "db", mnist);

  fs::create_directory(dir / "photos");
  std::ofstream(dir / "photos/holiday.jpg") << "precious";
  const std::string refused = error_of(
      [&] { convert_mnist_to_lmdb(dir / "images", dir / "labels", dir / "photos", true); });
  EXPECT_NE(refused.find("refusing to overwrite"), std::string::npos) << refused;
  EXPECT_TRUE(fs::exists(dir / "photos/holiday.jpg"));
  fs::create_directory(dir / "empty");
  EXPECT_EQ(convert_mnist_to_lmdb(dir / "images", dir / "labels", dir / "empty", true).records, 4u);
}

}  // namespace
}  // namespace caffe
