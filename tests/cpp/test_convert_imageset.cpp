// Tests of image lists, convert_imageset (the library behind the tool) and compute_image_mean
// on small generated image sets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "caffe/data/convert_imageset.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/image_codec.hpp"
#include "caffe/data/image_datum.hpp"
#include "caffe/data/image_list.hpp"
#include "caffe/data/image_mean.hpp"
#include "caffe/util/io.hpp"
#include "test_util.hpp"

namespace caffe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

Image random_image(int height, int width, int channels, uint32_t seed) {
  std::mt19937 random(seed);
  Image image{height, width, channels,
              std::vector<uint8_t>(static_cast<size_t>(height) * width * channels)};
  for (uint8_t& value : image.pixels) value = static_cast<uint8_t>(random() & 0xff);
  return image;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

struct Record {
  std::string key;
  Datum datum;
};

std::vector<Record> read_records(const std::string& path) {
  db::LmdbEnvironment environment(path, db::LmdbEnvironment::Access::READ_ONLY);
  db::LmdbReader reader(environment);
  std::vector<Record> records;
  for (bool ok = reader.first(); ok; ok = reader.next()) {
    Record record{std::string(reader.key()), Datum()};
    EXPECT_TRUE(record.datum.ParseFromArray(reader.value().data(),
                                            static_cast<int>(reader.value().size())));
    records.push_back(std::move(record));
  }
  return records;
}

// A folder of images: a.png (5x6 colour), b c.png (a space in the name, 5x6 colour),
// g.png (5x6 gray), d.jpg (5x6 colour, JPEG), big.png (7x4 colour), junk.png (not an image).
struct ImageSet {
  TempDir dir;
  std::vector<Image> images;  // a, b c, g, d (as decoded), big
  ImageSet() {
    fs::create_directory(dir / "img");
    const std::vector<std::pair<std::string, Image>> files = {
        {"a.png", random_image(5, 6, 3, 1)},   {"b c.png", random_image(5, 6, 3, 2)},
        {"g.png", random_image(5, 6, 1, 3)},   {"d.jpg", random_image(5, 6, 3, 4)},
        {"big.png", random_image(7, 4, 3, 5)},
    };
    for (const auto& [name, image] : files) {
      const ImageFormat format = name.size() > 4 && name.substr(name.size() - 4) == ".jpg"
                                     ? ImageFormat::JPEG
                                     : ImageFormat::PNG;
      const std::string bytes = encode_image(image, format);
      write_file_atomically(dir / ("img/" + name), bytes);
      images.push_back(decode_image(bytes, ImageChannels::NATIVE, name));
    }
    write_text(dir / "img/junk.png", "not an image at all");
  }
  std::string root() const { return dir / "img/"; }
  ImagesetOptions options() const {
    ImagesetOptions options;
    options.root_folder = root();
    return options;
  }
  std::string list(const std::string& text) const {
    write_text(dir / "list.txt", text);
    return dir / "list.txt";
  }
};

TEST(ImageListTest, ParsesPathsWithSpacesTabsAndBlankLines) {
  TempDir dir;
  write_text(dir / "list.txt", "a.jpg 3\r\n\n  \nsub dir/b c.png\t-1\nx.png    12  \n");
  const std::vector<ImageListEntry> entries = read_image_list(dir / "list.txt");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, "a.jpg");
  EXPECT_EQ(entries[0].label, 3);
  EXPECT_EQ(entries[0].line, 1);
  EXPECT_EQ(entries[1].path, "sub dir/b c.png");
  EXPECT_EQ(entries[1].label, -1);
  EXPECT_EQ(entries[1].line, 4);
  EXPECT_EQ(entries[2].path, "x.png");
  EXPECT_EQ(entries[2].label, 12);
  EXPECT_EQ(image_path("root/", entries[0]), "root/a.jpg");
}

TEST(ImageListTest, BadLinesNameFileAndLine) {
  TempDir dir;
  for (const std::string bad : {"a.png cat", "a.png", "a.png 3x", "a.png 99999999999"}) {
    write_text(dir / "list.txt", "ok.png 1\n" + bad + "\n");
    const std::string message = test::error_of([&] { read_image_list(dir / "list.txt"); });
    EXPECT_NE(message.find("'" + (dir / "list.txt") + "' line 2: expected 'path label'"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("got '" + bad + "'"), std::string::npos) << message;
  }
  write_text(dir / "empty.txt", "\n\n");
  EXPECT_NE(test::error_of([&] { read_image_list(dir / "empty.txt"); }).find("has no entries"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { read_image_list(dir / "missing.txt"); }).find("cannot open"),
            std::string::npos);
}

TEST(ConvertImagesetTest, WritesRawDatumsAndSkipsUnreadableImages) {
  ImageSet set;
  const std::string list = set.list("a.png 0\nmissing.png 1\nb c.png 2\njunk.png 3\nd.jpg 4\n");
  std::ostringstream warnings;
  const ImagesetConversion done = convert_imageset(list, set.dir / "db", set.options(), warnings);
  EXPECT_EQ(done.written, 3u);
  EXPECT_EQ(done.skipped, 2u);
  const std::string text = warnings.str();
  EXPECT_NE(text.find("warning: skipping '" + set.root() + "missing.png' ('" + list +
                      "' line 2): cannot open"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("warning: skipping '" + set.root() + "junk.png' ('" + list +
                      "' line 4): image '" + set.root() + "junk.png' is not a JPEG or PNG"),
            std::string::npos)
      << text;

  const std::vector<Record> records = read_records(set.dir / "db");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, "00000000_a.png");
  EXPECT_EQ(records[1].key, "00000002_b c.png");
  EXPECT_EQ(records[2].key, "00000004_d.jpg");
  const int image_of_record[] = {0, 1, 3};
  for (int r = 0; r < 3; ++r) {
    const Datum expected = image_to_datum(set.images[image_of_record[r]], 2 * r);
    EXPECT_EQ(records[r].datum.SerializeAsString(), expected.SerializeAsString()) << r;
  }
}

TEST(ConvertImagesetTest, GrayResizeAndShuffle) {
  ImageSet set;
  const std::string list = set.list("a.png 0\ng.png 1\nbig.png 2\nb c.png 3\n");
  ImagesetOptions options = set.options();
  options.gray = true;
  options.resize_height = 3;
  options.resize_width = 4;
  std::ostringstream warnings;
  convert_imageset(list, set.dir / "gray", options, warnings);
  std::vector<Record> records = read_records(set.dir / "gray");
  ASSERT_EQ(records.size(), 4u);
  const ImageShaping shaping{ImageChannels::GRAY, 3, 4};
  for (int r = 0; r < 4; ++r) {
    const Image expected = shape_image(set.images[r == 3   ? 1
                                                  : r == 2 ? 4
                                                  : r == 1 ? 2
                                                           : 0],
                                       shaping);
    EXPECT_EQ(records[r].datum.data(), image_to_datum(expected, r).data()) << r;
    EXPECT_EQ(records[r].datum.channels(), 1);
  }

  options.shuffle = true;
  options.shuffle_seed = 7;
  convert_imageset(list, set.dir / "shuffled", options, warnings);
  convert_imageset(list, set.dir / "again", options, warnings);
  const std::vector<Record> shuffled = read_records(set.dir / "shuffled");
  const std::vector<Record> again = read_records(set.dir / "again");
  ASSERT_EQ(shuffled.size(), 4u);
  std::vector<std::string> names, again_names;
  for (size_t r = 0; r < 4; ++r) {
    names.push_back(shuffled[r].key.substr(9));
    again_names.push_back(again[r].key.substr(9));
    EXPECT_EQ(shuffled[r].key.substr(0, 9), "0000000" + std::to_string(r) + "_");
  }
  EXPECT_EQ(names, again_names);  // the same seed, the same order
  EXPECT_NE(names, (std::vector<std::string>{"a.png", "g.png", "big.png", "b c.png"}));
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{"a.png", "b c.png", "big.png", "g.png"}));
  EXPECT_EQ(warnings.str(), "");
}

TEST(ConvertImagesetTest, EncodedKeepsFileBytesUnlessChanged) {
  ImageSet set;
  const std::string list = set.list("a.png 0\nd.jpg 1\ng.png 2\n");
  std::ostringstream warnings;
  ImagesetOptions options = set.options();
  options.encoded = true;
  convert_imageset(list, set.dir / "kept", options, warnings);
  std::vector<Record> records = read_records(set.dir / "kept");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_TRUE(records[0].datum.encoded());
  EXPECT_EQ(records[0].datum.data(), read_file(set.root() + "a.png"));
  EXPECT_EQ(records[1].datum.data(), read_file(set.root() + "d.jpg"));
  EXPECT_EQ(records[1].datum.label(), 1);
  // The gray file is converted to colour (the default), so it is re-encoded, as PNG.
  EXPECT_NE(records[2].datum.data(), read_file(set.root() + "g.png"));
  Datum decoded = records[2].datum;
  decode_datum(&decoded, ImageChannels::NATIVE, "g");
  EXPECT_EQ(decoded.data(),
            image_to_datum(convert_channels(set.images[2], ImageChannels::COLOR), 2).data());

  // encode_type alone implies --encoded; a PNG becomes a JPEG, a JPEG stays as it is.
  options.encoded = false;
  options.encode_type = "jpg";
  convert_imageset(list, set.dir / "jpg", options, warnings);
  records = read_records(set.dir / "jpg");
  for (const Record& record : records) {
    EXPECT_TRUE(record.datum.encoded());
    EXPECT_EQ(sniff_image_format(record.datum.data()), ImageFormat::JPEG) << record.key;
  }
  EXPECT_EQ(records[1].datum.data(), read_file(set.root() + "d.jpg"));
  options.encode_type = "gif";
  EXPECT_NE(test::error_of([&] {
              convert_imageset(list, set.dir / "gif", options, warnings);
            }).find("unknown image encoding 'gif'"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(set.dir / "gif"));
}

TEST(ConvertImagesetTest, ErrorsLeaveNoDatabaseBehind) {
  ImageSet set;
  std::ostringstream warnings;
  ImagesetOptions options = set.options();
  options.check_size = true;
  const std::string list = set.list("a.png 0\nb c.png 1\nbig.png 2\n");
  const std::string message =
      test::error_of([&] { convert_imageset(list, set.dir / "db", options, warnings); });
  EXPECT_NE(message.find("line 3: image '" + set.root() + "big.png' is 3x7x4"), std::string::npos)
      << message;
  EXPECT_NE(message.find("but '" + set.root() + "a.png' is 3x5x6"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(set.dir / "db"));
  // Without --check_size the sizes may differ.
  options.check_size = false;
  EXPECT_EQ(convert_imageset(list, set.dir / "db", options, warnings).written, 3u);
  // An existing database is kept unless overwrite.
  EXPECT_NE(test::error_of([&] {
              convert_imageset(list, set.dir / "db", options, warnings);
            }).find("already exists; pass --overwrite"),
            std::string::npos);
  options.overwrite = true;
  EXPECT_EQ(convert_imageset(set.list("a.png 5\n"), set.dir / "db", options, warnings).written, 1u);
  EXPECT_EQ(read_records(set.dir / "db").size(), 1u);
  // Nothing readable, or a bad list line: an error, and no database.
  const std::string none = test::error_of(
      [&] { convert_imageset(set.list("junk.png 0\n"), set.dir / "none", options, warnings); });
  EXPECT_NE(none.find("none of the 1 images"), std::string::npos) << none;
  EXPECT_FALSE(fs::exists(set.dir / "none"));
  EXPECT_NE(test::error_of([&] {
              convert_imageset(set.list("a.png 0\nb.png\n"), set.dir / "bad", options, warnings);
            }).find("line 2: expected 'path label'"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(set.dir / "bad"));
  options.resize_height = 4;
  EXPECT_NE(test::error_of([&] {
              convert_imageset(list, set.dir / "r", options, warnings);
            }).find("give both resize_height and resize_width"),
            std::string::npos);
}

TEST(ComputeImageMeanTest, AveragesRawAndEncodedAlike) {
  ImageSet set;
  const std::string list = set.list("a.png 0\nb c.png 1\nd.jpg 2\n");
  std::ostringstream warnings;
  convert_imageset(list, set.dir / "raw", set.options(), warnings);
  ImagesetOptions encoded = set.options();
  encoded.encoded = true;
  convert_imageset(list, set.dir / "encoded", encoded, warnings);

  const ImageMean mean = compute_image_mean(set.dir / "raw");
  EXPECT_EQ(mean.records, 3u);
  EXPECT_EQ(proto_shape(mean.mean), (std::vector<int>{1, 3, 5, 6}));
  ASSERT_EQ(mean.mean.data_size(), 90);
  std::vector<double> channel_sums(3, 0.0);
  for (int i = 0; i < 90; ++i) {
    const int c = i / 30, y = (i / 6) % 5, x = i % 6;
    double sum = 0;
    for (int image : {0, 1, 3}) sum += set.images[image].pixels[(y * 6 + x) * 3 + c];
    EXPECT_FLOAT_EQ(mean.mean.data(i), static_cast<float>(sum / 3)) << i;
    channel_sums[c] += sum / 3;
  }
  ASSERT_EQ(mean.channel_means.size(), 3u);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean.channel_means[c], channel_sums[c] / 30, 1e-9);

  const ImageMean from_encoded = compute_image_mean(set.dir / "encoded");
  EXPECT_EQ(from_encoded.mean.SerializeAsString(), mean.mean.SerializeAsString());
}

TEST(ComputeImageMeanTest, DifferentSizesNameTheRecord) {
  ImageSet set;
  std::ostringstream warnings;
  convert_imageset(set.list("a.png 0\nbig.png 1\n"), set.dir / "db", set.options(), warnings);
  const std::string message = test::error_of([&] { compute_image_mean(set.dir / "db"); });
  EXPECT_NE(message.find("record '00000001_big.png'"), std::string::npos) << message;
  EXPECT_NE(message.find("3x7x4"), std::string::npos) << message;
  EXPECT_NE(test::error_of([&] { compute_image_mean(set.dir / "nothing"); }).find("does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace caffe
