// Tests of the ImageData layer on a few generated images: order and labels, wrap-around,
// rand_skip, gray decoding, resizing, shuffled epochs, transforms, and error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "caffe/data/image_codec.hpp"
#include "caffe/data/image_datum.hpp"
#include "caffe/layers/image_data_layer.hpp"
#include "caffe/util/io.hpp"
#include "test_util.hpp"

namespace caffe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr int kImages = 5;

// img/0.png .. img/4.png: 4 x 5 colour images, labels 10 + i; big.png is 6 x 5; list.txt
// names the five in order.
struct ImageFolder {
  TempDir dir;
  std::vector<Image> images;
  ImageFolder() {
    fs::create_directory(dir / "img");
    std::mt19937 random(9);
    std::string list;
    for (int i = 0; i < kImages; ++i) {
      Image image{4, 5, 3, std::vector<uint8_t>(60)};
      for (uint8_t& value : image.pixels) value = static_cast<uint8_t>(random() & 0xff);
      write_file_atomically(dir / ("img/" + std::to_string(i) + ".png"),
                            encode_image(image, ImageFormat::PNG));
      images.push_back(image);
      list += std::to_string(i) + ".png " + std::to_string(10 + i) + "\n";
    }
    const Image big{6, 5, 3, std::vector<uint8_t>(90, 7)};
    write_file_atomically(dir / "img/big.png", encode_image(big, ImageFormat::PNG));
    write_list("list.txt", list);
  }
  std::string write_list(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return dir / name;
  }
  std::string root() const { return dir / "img/"; }
};

struct ImageDataRun {
  std::unique_ptr<Layer> layer;
  test::BlobSet top;
  ImageDataRun(const ImageFolder& folder, const std::string& fields, Phase phase = TEST,
               const std::string& list = "list.txt") {
    layer = test::make_layer("name: 'images' type: 'ImageData' image_data_param { source: '" +
                                 (folder.dir / list) + "' root_folder: '" + folder.root() + "' " +
                                 fields + " }",
                             phase);
    top.add({});
    top.add({});
    layer->SetUp({}, top.ptrs);
  }
  std::vector<float> forward(uint64_t index) {
    layer->set_step(0, index);
    layer->Forward({}, top.ptrs);
    return std::vector<float>(top.ptrs[0]->cpu_data(),
                              top.ptrs[0]->cpu_data() + top.ptrs[0]->count());
  }
  std::vector<float> labels() const {
    return std::vector<float>(top.ptrs[1]->cpu_data(),
                              top.ptrs[1]->cpu_data() + top.ptrs[1]->count());
  }
};

// The floats a raw datum of `image` holds, channel planes in order.
std::vector<float> planes(const Image& image) {
  const std::string bytes = image_to_datum(image, 0).data();
  std::vector<float> values;
  for (char byte : bytes) values.push_back(static_cast<float>(static_cast<uint8_t>(byte)));
  return values;
}

// The batch as images of the folder: the index of the image each item equals, or -1.
std::vector<int> items_of(const ImageFolder& folder, const std::vector<float>& values,
                          int item_size) {
  std::vector<int> found;
  for (size_t start = 0; start < values.size(); start += item_size) {
    const std::vector<float> item(values.begin() + start, values.begin() + start + item_size);
    int which = -1;
    for (int i = 0; i < kImages; ++i) {
      if (planes(folder.images[i]) == item) which = i;
    }
    found.push_back(which);
  }
  return found;
}

TEST(ImageDataLayerTest, ReadsTheListInOrderAndWrapsAround) {
  ImageFolder folder;
  ImageDataRun run(folder, "batch_size: 2");
  EXPECT_EQ(run.top.ptrs[0]->shape(), (std::vector<int>{2, 3, 4, 5}));
  EXPECT_EQ(run.top.ptrs[1]->shape(), (std::vector<int>{2}));
  EXPECT_EQ(static_cast<ImageDataLayer&>(*run.layer).num_images(), 5u);
  EXPECT_EQ(items_of(folder, run.forward(0), 60), (std::vector<int>{0, 1}));
  EXPECT_EQ(run.labels(), (std::vector<float>{10, 11}));
  EXPECT_EQ(items_of(folder, run.forward(2), 60), (std::vector<int>{4, 0}));
  EXPECT_EQ(run.labels(), (std::vector<float>{14, 10}));
  EXPECT_EQ(items_of(folder, run.forward(1), 60), (std::vector<int>{2, 3}));

  ImageDataRun skipped(folder, "batch_size: 3 rand_skip: 4");
  EXPECT_EQ(items_of(folder, skipped.forward(0), 60), (std::vector<int>{4, 0, 1}));
}

TEST(ImageDataLayerTest, TrainingShardReadsEveryKthPositionOfTheStream) {
  ImageFolder folder;
  const test::TrainingShardScope shard(1, 2);  // positions 1, 3, 5 = 0, 7 = 2, ...
  ImageDataRun run(folder, "batch_size: 2", TRAIN);
  EXPECT_EQ(items_of(folder, run.forward(1), 60), (std::vector<int>{0, 2}));
  EXPECT_EQ(items_of(folder, run.forward(0), 60), (std::vector<int>{1, 3}));
  EXPECT_EQ(run.labels(), (std::vector<float>{11, 13}));
  ImageDataRun test_phase(folder, "batch_size: 2", TEST);
  EXPECT_EQ(items_of(folder, test_phase.forward(0), 60), (std::vector<int>{0, 1}));
}

TEST(ImageDataLayerTest, GrayAndResize) {
  ImageFolder folder;
  ImageDataRun gray(folder, "batch_size: 1 is_color: false");
  EXPECT_EQ(gray.top.ptrs[0]->shape(), (std::vector<int>{1, 1, 4, 5}));
  EXPECT_EQ(gray.forward(3), planes(convert_channels(folder.images[3], ImageChannels::GRAY)));

  ImageDataRun resized(folder, "batch_size: 1 new_height: 3 new_width: 7");
  EXPECT_EQ(resized.top.ptrs[0]->shape(), (std::vector<int>{1, 3, 3, 7}));
  EXPECT_EQ(resized.forward(2), planes(resize_image(folder.images[2], 3, 7)));
  // With a resize, images of other sizes are welcome.
  folder.write_list("mixed.txt", "big.png 1\n0.png 0\n");
  ImageDataRun mixed(folder, "batch_size: 2 new_height: 4 new_width: 5", TEST, "mixed.txt");
  const std::vector<float> values = mixed.forward(0);
  EXPECT_EQ(std::vector<float>(values.begin() + 60, values.end()), planes(folder.images[0]));
}

TEST(ImageDataLayerTest, ShuffleDrawsAPermutationPerEpochFromTheSeed) {
  ImageFolder folder;
  const uint64_t saved_seed = random_seed();
  set_random_seed(31);
  ImageDataRun run(folder, "batch_size: 5 shuffle: true");
  std::vector<std::vector<int>> epochs;
  for (uint64_t epoch = 0; epoch < 4; ++epoch) {
    std::vector<int> order = items_of(folder, run.forward(epoch), 60);
    const std::vector<float> labels = run.labels();
    for (int k = 0; k < kImages; ++k) EXPECT_EQ(labels[k], 10 + order[k]);
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<int>{0, 1, 2, 3, 4})) << "epoch " << epoch;
    epochs.push_back(order);
  }
  EXPECT_EQ(std::set<std::vector<int>>(epochs.begin(), epochs.end()).size(), 4u)
      << "four epochs, four different orders";
  // The same seed gives the same epochs, in any order of reading.
  ImageDataRun again(folder, "batch_size: 5 shuffle: true");
  EXPECT_EQ(items_of(folder, again.forward(2), 60), epochs[2]);
  EXPECT_EQ(items_of(folder, again.forward(0), 60), epochs[0]);
  set_random_seed(32);
  ImageDataRun other(folder, "batch_size: 5 shuffle: true");
  std::vector<std::vector<int>> other_epochs;
  for (uint64_t epoch = 0; epoch < 4; ++epoch) {
    other_epochs.push_back(items_of(folder, other.forward(epoch), 60));
  }
  EXPECT_NE(other_epochs, epochs);
  set_random_seed(saved_seed);
}

TEST(ImageDataLayerTest, AppliesTransformParamAndLegacyFields) {
  ImageFolder folder;
  ImageDataRun scaled(folder, "batch_size: 1 scale: 0.5");
  std::vector<float> expected = planes(folder.images[1]);
  for (float& value : expected) value *= 0.5f;
  EXPECT_EQ(scaled.forward(1), expected);

  // A legacy crop_size: the TEST-phase centre crop of 3 from 4 x 5 starts at (0, 1).
  ImageDataRun crop(folder, "batch_size: 1 crop_size: 3");
  EXPECT_EQ(crop.top.ptrs[0]->shape(), (std::vector<int>{1, 3, 3, 3}));
  const std::vector<float> cropped = crop.forward(0);
  const std::vector<float> full = planes(folder.images[0]);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 3; ++y) {
      for (int x = 0; x < 3; ++x) {
        EXPECT_EQ(cropped[(c * 3 + y) * 3 + x], full[(c * 4 + y) * 5 + x + 1]);
      }
    }
  }
  const std::string conflict = test::error_of([&] {
    ImageDataRun both(folder, "batch_size: 1 mirror: true } transform_param { mirror: true");
  });
  EXPECT_NE(conflict.find("mirror in both image_data_param and transform_param"), std::string::npos)
      << conflict;
}

TEST(ImageDataLayerTest, ErrorsNameTheImageAndListLine) {
  ImageFolder folder;
  folder.write_list("broken.txt", "0.png 0\n1.png 1\nmissing.png 2\n");
  ImageDataRun run(folder, "batch_size: 2", TEST, "broken.txt");
  run.forward(0);
  const std::string missing = test::error_of([&] { run.forward(1); });
  EXPECT_NE(missing.find("'" + (folder.dir / "broken.txt") + "' line 3: cannot open '" +
                         folder.root() + "missing.png'"),
            std::string::npos)
      << missing;
  EXPECT_NE(missing.find("layer 'images' (ImageData)"), std::string::npos) << missing;

  folder.write_list("sizes.txt", "0.png 0\nbig.png 1\n");
  ImageDataRun sizes(folder, "batch_size: 2", TEST, "sizes.txt");
  const std::string size_error = test::error_of([&] { sizes.forward(0); });
  EXPECT_NE(size_error.find("line 2: image '" + folder.root() + "big.png' is 3x6x5"),
            std::string::npos)
      << size_error;
  EXPECT_NE(size_error.find("set new_height and new_width"), std::string::npos) << size_error;

  folder.write_list("bad.txt", "0.png zero\n");
  const auto setup_error = [&](const std::string& fields, const std::string& list) {
    return test::error_of([&] { ImageDataRun bad(folder, fields, TEST, list); });
  };
  EXPECT_NE(setup_error("batch_size: 1", "bad.txt").find("line 1: expected 'path label'"),
            std::string::npos);
  EXPECT_NE(setup_error("batch_size: 0", "list.txt").find("batch_size must be positive"),
            std::string::npos);
  EXPECT_NE(setup_error("batch_size: 1 new_height: 3", "list.txt").find("set both to resize"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              test::BlobSet top;
              top.add({});
              test::make_layer("type: 'ImageData' image_data_param { batch_size: 1 }")
                  ->SetUp({}, top.ptrs);
            }).find("image_data_param.source is not set"),
            std::string::npos);
}

TEST(ImageDataLayerTest, TrainCropsAreKeyedByTheForwardPass) {
  ImageFolder folder;
  ImageDataRun run(folder, "batch_size: 2 } transform_param { crop_size: 3 mirror: true", TRAIN);
  ImageDataRun again(folder, "batch_size: 2 } transform_param { crop_size: 3 mirror: true", TRAIN);
  const std::vector<float> first = run.forward(7);
  EXPECT_EQ(again.forward(7), first);
  std::set<std::vector<float>> distinct;
  for (uint64_t pass = 0; pass < 20; pass += 5) distinct.insert(run.forward(pass));  // image 0, 1
  EXPECT_GT(distinct.size(), 1u) << "random crops and flips should differ between passes";
}

}  // namespace
}  // namespace caffe
