// Tests of the data path: the LMDB wrapper, the DataTransformer and the Data layer (batch
// order, wrap-around, rand_skip, transforms, determinism and jumps, error messages).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "caffe/data/data_transformer.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/image_codec.hpp"
#include "caffe/data/image_datum.hpp"
#include "caffe/layers/data_layer.hpp"
#include "caffe/util/math_functions.hpp"
#include "test_util.hpp"

namespace caffe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;


std::string record_key(int index) {
  char key[16];
  std::snprintf(key, sizeof(key), "%08d", index);
  return key;
}

// `count` datums of channels x height x width random bytes; record i has label 100 + i.
std::vector<Datum> random_datums(int count, int channels, int height, int width,
                                 uint32_t seed = 7) {
  std::mt19937 random(seed);
  std::vector<Datum> datums(count);
  for (int i = 0; i < count; ++i) {
    Datum& datum = datums[i];
    datum.set_channels(channels);
    datum.set_height(height);
    datum.set_width(width);
    std::string bytes(static_cast<size_t>(channels) * height * width, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random() & 0xff);
    datum.set_data(bytes);
    datum.set_label(100 + i);
  }
  return datums;
}

void write_records(const std::string& path, const std::vector<std::string>& values) {
  db::LmdbEnvironment environment(path, db::LmdbEnvironment::Access::READ_WRITE);
  db::LmdbWriter writer(environment, 4);
  for (size_t i = 0; i < values.size(); ++i) writer.put(record_key(static_cast<int>(i)), values[i]);
  writer.commit();
}

void write_datums(const std::string& path, const std::vector<Datum>& datums) {
  std::vector<std::string> values;
  for (const Datum& datum : datums) values.push_back(datum.SerializeAsString());
  write_records(path, values);
}

float pixel(const Datum& datum, int c, int y, int x) {
  const size_t index = (static_cast<size_t>(c) * datum.height() + y) * datum.width() + x;
  return datum.data().empty() ? datum.float_data(static_cast<int>(index))
                              : static_cast<float>(static_cast<uint8_t>(datum.data()[index]));
}

// A set-up Data layer with its tops.
struct DataLayerRun {
  std::unique_ptr<Layer> layer;
  test::BlobSet top;

  // `extra` is appended to the layer's prototxt, `data_fields` to its data_param.
  DataLayerRun(const std::string& source, const std::string& extra, Phase phase = TRAIN,
               int batch_size = 3, int tops = 2, const std::string& data_fields = "") {
    layer = test::make_layer("name: 'data' type: 'Data' data_param { source: '" + source +
                                 "' batch_size: " + std::to_string(batch_size) + " backend: LMDB " +
                                 data_fields + " } " + extra,
                             phase);
    for (int t = 0; t < tops; ++t) top.add({});
    layer->SetUp({}, top.ptrs);
  }
  // Runs forward pass `index` and returns a copy of the data top.
  std::vector<float> forward(uint64_t index) {
    layer->set_step(0, index);
    layer->Forward({}, top.ptrs);
    const Blob& data = *top.ptrs[0];
    return std::vector<float>(data.cpu_data(), data.cpu_data() + data.count());
  }
  std::vector<float> labels() const {
    const Blob& labels = *top.ptrs[1];
    return std::vector<float>(labels.cpu_data(), labels.cpu_data() + labels.count());
  }
};

// Expects the data top to hold records `records` untransformed, with their labels.
void expect_records(const DataLayerRun& run, const std::vector<Datum>& datums,
                    const std::vector<int>& records) {
  const Blob& data = *run.top.ptrs[0];
  const int item = data.count(1);
  ASSERT_EQ(data.shape(0), static_cast<int>(records.size()));
  const std::vector<float> labels = run.labels();
  for (size_t k = 0; k < records.size(); ++k) {
    const Datum& datum = datums[records[k]];
    EXPECT_EQ(labels[k], static_cast<float>(datum.label())) << "item " << k;
    for (int i = 0; i < item; ++i) {
      const float expected =
          datum.data().empty() ? datum.float_data(i) : static_cast<uint8_t>(datum.data()[i]);
      ASSERT_EQ(data.cpu_data()[k * item + i], expected) << "item " << k << " value " << i;
    }
  }
}

TEST(DataLayerTest, BatchesFollowKeyOrderWithShapes) {
  TempDir dir;
  const auto datums = random_datums(10, 2, 4, 5);
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "");
  EXPECT_EQ(run.top.ptrs[0]->shape(), (std::vector<int>{3, 2, 4, 5}));
  EXPECT_EQ(run.top.ptrs[1]->shape(), (std::vector<int>{3}));
  EXPECT_EQ(static_cast<DataLayer&>(*run.layer).num_records(), 10u);
  run.forward(0);
  expect_records(run, datums, {0, 1, 2});
  run.forward(1);
  expect_records(run, datums, {3, 4, 5});
  run.forward(2);
  expect_records(run, datums, {6, 7, 8});
}

TEST(DataLayerTest, WrapsAroundTheDatabase) {
  TempDir dir;
  const auto datums = random_datums(10, 1, 3, 3);
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "");
  for (uint64_t b = 0; b < 3; ++b) run.forward(b);
  run.forward(3);
  expect_records(run, datums, {9, 0, 1});
  run.forward(4);
  expect_records(run, datums, {2, 3, 4});
}

TEST(DataLayerTest, BatchLargerThanDatabaseRepeatsRecords) {
  TempDir dir;
  const auto datums = random_datums(3, 1, 2, 2);
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "", TRAIN, 7);
  run.forward(0);
  expect_records(run, datums, {0, 1, 2, 0, 1, 2, 0});
  run.forward(1);
  expect_records(run, datums, {1, 2, 0, 1, 2, 0, 1});
}

TEST(DataLayerTest, RandSkipOffsetsEveryBatch) {
  TempDir dir;
  const auto datums = random_datums(10, 1, 3, 3);
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "", TRAIN, 3, 2, "rand_skip: 14");
  run.forward(0);
  expect_records(run, datums, {4, 5, 6});
  run.forward(2);
  expect_records(run, datums, {0, 1, 2});
}

TEST(DataLayerTest, TrainingShardReadsEveryKthRecordOfTheStream) {
  TempDir dir;
  const auto datums = random_datums(10, 1, 3, 3);
  write_datums(dir / "db", datums);
  const test::TrainingShardScope shard(1, 3);  // records 1, 4, 7, 10 = 0, 13 = 3, ...
  DataLayerRun run(dir / "db", "", TRAIN, 2);
  run.forward(2);  // a jump first: batches are a function of their index
  expect_records(run, datums, {3, 6});
  run.forward(0);
  expect_records(run, datums, {1, 4});
  run.forward(1);
  expect_records(run, datums, {7, 0});
  DataLayerRun skipped(dir / "db", "", TRAIN, 2, 2, "rand_skip: 2");
  skipped.forward(0);
  expect_records(skipped, datums, {3, 6});
  DataLayerRun test_phase(dir / "db", "", TEST, 2);  // tests read every record
  test_phase.forward(0);
  expect_records(test_phase, datums, {0, 1});
}

TEST(DataLayerTest, LabelTopIsOptional) {
  TempDir dir;
  const auto datums = random_datums(4, 1, 2, 2);
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "", TEST, 2, 1);
  const std::vector<float> values = run.forward(1);
  ASSERT_EQ(values.size(), 8u);
  EXPECT_EQ(values[0], pixel(datums[2], 0, 0, 0));
  EXPECT_EQ(values[7], pixel(datums[3], 0, 1, 1));
}

TEST(DataLayerTest, ReadsFloatData) {
  TempDir dir;
  std::vector<Datum> datums(5);
  for (int i = 0; i < 5; ++i) {
    datums[i].set_channels(1);
    datums[i].set_height(2);
    datums[i].set_width(3);
    for (int j = 0; j < 6; ++j) datums[i].add_float_data(0.5f * i - 0.25f * j);
    datums[i].set_label(i);
  }
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "", TRAIN, 2);
  run.forward(1);
  expect_records(run, datums, {2, 3});
}

TEST(DataLayerTest, ScaleAndMeanValues) {
  TempDir dir;
  const auto datums = random_datums(4, 3, 2, 2);
  write_datums(dir / "db", datums);
  {
    DataLayerRun run(dir / "db", "transform_param { scale: 0.5 mean_value: 10 }", TRAIN, 2);
    const std::vector<float> values = run.forward(0);
    for (int k = 0; k < 2; ++k) {
      for (int i = 0; i < 12; ++i) {
        EXPECT_FLOAT_EQ(values[k * 12 + i],
                        (pixel(datums[k], i / 4, (i / 2) % 2, i % 2) - 10) * 0.5f);
      }
    }
  }
  DataLayerRun run(dir / "db",
                   "transform_param { scale: 2 mean_value: 1 mean_value: 2 mean_value: 3 }", TRAIN,
                   2);
  const std::vector<float> values = run.forward(1);
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 12; ++i) {
      const int c = i / 4;
      EXPECT_FLOAT_EQ(values[k * 12 + i],
                      (pixel(datums[2 + k], c, (i / 2) % 2, i % 2) - (c + 1)) * 2.0f);
    }
  }
}

TEST(DataLayerTest, MeanFile) {
  TempDir dir;
  const auto datums = random_datums(2, 2, 3, 2);
  write_datums(dir / "db", datums);
  BlobProto mean;
  for (int dim : {1, 2, 3, 2}) mean.mutable_shape()->add_dim(dim);
  for (int i = 0; i < 12; ++i) mean.add_data(1.5f * i);
  write_proto_to_binary_file(mean, dir / "mean.binaryproto");
  DataLayerRun run(
      dir / "db", "transform_param { scale: 0.25 mean_file: '" + (dir / "mean.binaryproto") + "' }",
      TEST, 2);
  const std::vector<float> values = run.forward(0);
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 12; ++i) {
      EXPECT_FLOAT_EQ(values[k * 12 + i],
                      (pixel(datums[k], i / 6, (i / 2) % 3, i % 2) - 1.5f * i) * 0.25f);
    }
  }
  // A mean of the wrong shape is refused at setup.
  mean.mutable_shape()->set_dim(2, 4);
  for (int i = 0; i < 4; ++i) mean.add_data(0);
  write_proto_to_binary_file(mean, dir / "bad_mean.binaryproto");
  try {
    DataLayerRun bad(dir / "db",
                     "transform_param { mean_file: '" + (dir / "bad_mean.binaryproto") + "' }");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("has shape 1 2 4 2 (16) but the datums are 2x3x2"),
              std::string::npos)
        << error.what();
  }
}

// Output item k of a cropped pass must be datum `datum` cropped at (dy, dx), maybe mirrored.
bool matches_placement(const float* out, const Datum& datum, int crop, int dy, int dx,
                       bool mirror) {
  for (int c = 0; c < datum.channels(); ++c) {
    for (int y = 0; y < crop; ++y) {
      for (int x = 0; x < crop; ++x) {
        const int source_x = mirror ? crop - 1 - x : x;
        if (out[(c * crop + y) * crop + x] != pixel(datum, c, y + dy, source_x + dx)) return false;
      }
    }
  }
  return true;
}

TEST(DataLayerTest, TestPhaseTakesCentreCropWithoutMirror) {
  TempDir dir;
  const auto datums = random_datums(4, 2, 5, 7);
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "transform_param { crop_size: 3 mirror: true }", TEST, 2);
  EXPECT_EQ(run.top.ptrs[0]->shape(), (std::vector<int>{2, 2, 3, 3}));
  for (uint64_t b = 0; b < 4; ++b) {
    const std::vector<float> values = run.forward(b);
    for (int k = 0; k < 2; ++k) {
      EXPECT_TRUE(
          matches_placement(values.data() + k * 18, datums[(b * 2 + k) % 4], 3, 1, 2, false));
    }
  }
}

TEST(DataLayerTest, TrainPhaseCropsAndMirrorsRandomlyButReproducibly) {
  TempDir dir;
  const auto datums = random_datums(6, 2, 4, 5);
  write_datums(dir / "db", datums);
  const std::string transform = "transform_param { crop_size: 3 mirror: true }";
  DataLayerRun run(dir / "db", transform, TRAIN, 3);
  std::set<std::tuple<int, int, bool>> seen;
  for (uint64_t b = 0; b < 40; ++b) {
    const std::vector<float> values = run.forward(b);
    for (int k = 0; k < 3; ++k) {
      const Datum& datum = datums[(b * 3 + k) % 6];
      int found = 0;
      for (int dy = 0; dy <= 1; ++dy) {
        for (int dx = 0; dx <= 2; ++dx) {
          for (bool mirror : {false, true}) {
            if (matches_placement(values.data() + k * 18, datum, 3, dy, dx, mirror)) {
              seen.insert({dy, dx, mirror});
              ++found;
            }
          }
        }
      }
      EXPECT_GE(found, 1) << "batch " << b << " item " << k << " is no crop of its record";
    }
  }
  EXPECT_EQ(seen.size(), 12u) << "every offset and flip should occur in 120 draws";

  // The same pass index gives the same crops, also in a fresh layer.
  DataLayerRun again(dir / "db", transform, TRAIN, 3);
  EXPECT_EQ(again.forward(17), run.forward(17));
  EXPECT_NE(run.forward(17), run.forward(19));  // records 51..53 = 57..59 mod 6, other crops
}

TEST(DataLayerTest, JumpsToAnyBatchLikeASequentialRun) {
  TempDir dir;
  const auto datums = random_datums(11, 1, 4, 4);
  write_datums(dir / "db", datums);
  const std::string transform = "transform_param { crop_size: 3 mirror: true scale: 0.1 }";
  DataLayerRun sequential(dir / "db", transform, TRAIN, 4);
  std::vector<std::vector<float>> expected;
  std::vector<std::vector<float>> expected_labels;
  for (uint64_t b = 0; b < 8; ++b) {
    expected.push_back(sequential.forward(b));
    expected_labels.push_back(sequential.labels());
  }
  DataLayerRun resumed(dir / "db", transform, TRAIN, 4);
  for (uint64_t b : {5, 6, 2, 3, 7, 0, 0, 4}) {
    EXPECT_EQ(resumed.forward(b), expected[b]) << "batch " << b;
    EXPECT_EQ(resumed.labels(), expected_labels[b]) << "batch " << b;
  }
}

TEST(DataLayerTest, TrainAndTestLayersShareOneDatabase) {
  TempDir dir;
  const auto datums = random_datums(5, 1, 2, 2);
  write_datums(dir / "db", datums);
  DataLayerRun train(dir / "db", "", TRAIN, 2);
  DataLayerRun test(dir / "db", "", TEST, 3);
  train.forward(0);
  test.forward(0);
  expect_records(train, datums, {0, 1});
  expect_records(test, datums, {0, 1, 2});
  test.forward(1);
  expect_records(test, datums, {3, 4, 0});
}

TEST(DataLayerTest, DestroysCleanlyWhilePrefetching) {
  TempDir dir;
  write_datums(dir / "db", random_datums(50, 1, 8, 8));
  for (int i = 0; i < 20; ++i) {
    DataLayerRun run(dir / "db", "", TRAIN, 5, 2, "prefetch: 1");
    if (i % 2) run.forward(static_cast<uint64_t>(i));
  }
}

std::string setup_error(const std::string& prototxt) {
  try {
    test::BlobSet top;
    top.add({});
    top.add({});
    auto layer = test::make_layer(prototxt);
    layer->SetUp({}, top.ptrs);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(DataLayerTest, MissingSourceIsAClearError) {
  TempDir dir;
  const std::string missing = dir / "no_such_lmdb";
  const std::string message =
      setup_error("name: 'd' type: 'Data' data_param { source: '" + missing + "' batch_size: 2 }");
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("layer 'd' (Data)"), std::string::npos) << message;
  EXPECT_NE(setup_error("type: 'Data' data_param { batch_size: 2 }").find("source is not set"),
            std::string::npos);
}

TEST(DataLayerTest, LeveldbBackendOnlyAcceptsAnLmdb) {
  TempDir dir;
  const auto datums = random_datums(4, 1, 2, 2);
  write_datums(dir / "db", datums);
  // backend unset (LEVELDB by default) or LEVELDB: an LMDB directory is read anyway.
  for (const char* backend : {"", "backend: LEVELDB"}) {
    auto layer = test::make_layer("type: 'Data' data_param { source: '" + (dir / "db") +
                                  "' batch_size: 2 " + backend + " }");
    test::BlobSet top;
    top.add({});
    layer->SetUp({}, top.ptrs);
    layer->Forward({}, top.ptrs);
    EXPECT_EQ(top.ptrs[0]->cpu_data()[0], pixel(datums[0], 0, 0, 0));
  }
  // A LevelDB-looking directory is refused with advice.
  fs::create_directory(dir / "leveldb");
  std::ofstream(dir / "leveldb/CURRENT") << "MANIFEST-000001\n";
  const std::string message =
      setup_error("type: 'Data' data_param { source: '" + (dir / "leveldb") + "' batch_size: 2 }");
  EXPECT_NE(message.find("LEVELDB is not supported; convert to LMDB (backend: LMDB)"),
            std::string::npos)
      << message;
  // With backend LMDB the same directory is reported as not an LMDB.
  const std::string lmdb_message =
      setup_error("type: 'Data' data_param { source: '" + (dir / "leveldb") +
                  "' batch_size: 2 backend: LMDB }");
  EXPECT_NE(lmdb_message.find("is not an LMDB database"), std::string::npos) << lmdb_message;
}

TEST(DataLayerTest, CorruptRecordsNameTheirKey) {
  TempDir dir;
  auto datums = random_datums(9, 1, 3, 3);
  std::vector<std::string> values;
  for (const Datum& datum : datums) values.push_back(datum.SerializeAsString());
  Datum short_datum = datums[4];
  short_datum.set_data(std::string(5, '\1'));
  values[4] = short_datum.SerializeAsString();
  Datum other_shape = random_datums(1, 3, 3, 3)[0];
  values[7] = other_shape.SerializeAsString();
  values[8] = std::string("\xff\xff\xff", 3);
  write_records(dir / "db", values);

  DataLayerRun run(dir / "db", "", TRAIN, 3);
  run.forward(0);
  expect_records(run, datums, {0, 1, 2});
  const auto forward_error = [&](uint64_t index) -> std::string {
    try {
      run.forward(index);
    } catch (const Error& error) {
      return error.what();
    }
    return "";
  };
  const std::string size_error = forward_error(1);
  EXPECT_NE(size_error.find("record '00000004'"), std::string::npos) << size_error;
  EXPECT_NE(size_error.find("5 bytes"), std::string::npos) << size_error;
  // The reader recovers: a good batch after the error is served.
  run.forward(0);
  expect_records(run, datums, {0, 1, 2});
  const std::string shape_error = forward_error(2);
  EXPECT_NE(shape_error.find("record '00000007'"), std::string::npos) << shape_error;
  EXPECT_NE(shape_error.find("3x3x3"), std::string::npos) << shape_error;
  EXPECT_NE(forward_error(2).find("record '00000007'"), std::string::npos);  // same batch again
  values[7] = datums[7].SerializeAsString();
  TempDir other;
  write_records(other / "db", values);
  DataLayerRun garbage(other / "db", "", TRAIN, 3);
  try {
    garbage.forward(2);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("record '00000008'"), std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("not a Datum"), std::string::npos) << error.what();
  }
}

TEST(DataLayerTest, ParameterErrors) {
  TempDir dir;
  write_datums(dir / "db", random_datums(3, 2, 4, 4));
  const std::string fields = "source: '" + (dir / "db") + "' batch_size: 2";
  const std::string source = "data_param { " + fields + " }";
  EXPECT_NE(
      setup_error("type: 'Data' data_param { source: '" + (dir / "db") + "' }").find("batch_size"),
      std::string::npos);
  EXPECT_NE(setup_error("type: 'Data' " + source + " transform_param { crop_size: 5 }")
                .find("crop_size 5"),
            std::string::npos);
  EXPECT_NE(setup_error("type: 'Data' " + source +
                        " transform_param { mean_value: 1 mean_value: 2 mean_value: 3 }")
                .find("3 mean_value(s) for 2-channel"),
            std::string::npos);
  EXPECT_NE(setup_error("type: 'Data' data_param { scale: 2 " + fields +
                        " } transform_param { scale: 3 }")
                .find("scale in both"),
            std::string::npos);
  TempDir empty;
  write_records(empty / "db", {});
  EXPECT_NE(
      setup_error("type: 'Data' data_param { source: '" + (empty / "db") + "' batch_size: 1 }")
          .find("has no records"),
      std::string::npos);
}

TEST(DataLayerTest, LegacyDataParamTransformFields) {
  TempDir dir;
  const auto datums = random_datums(2, 1, 2, 2);
  write_datums(dir / "db", datums);
  DataLayerRun run(dir / "db", "", TEST, 1, 2, "scale: 0.5");
  const std::vector<float> values = run.forward(1);
  EXPECT_FLOAT_EQ(values[3], pixel(datums[1], 0, 1, 1) * 0.5f);
}

TEST(DataLayerTest, GpuForwardMatchesCpu) {
  SKIP_IF_NO_GPU();
  TempDir dir;
  write_datums(dir / "db", random_datums(6, 2, 4, 4));
  DataLayerRun run(dir / "db", "transform_param { scale: 0.5 crop_size: 3 mirror: true }", TRAIN,
                   3);
  const std::vector<float> cpu = run.forward(1);
  test::GpuModeScope gpu;
  run.layer->set_step(0, 1);
  run.layer->Forward({}, run.top.ptrs);
  // Copy on the device so the comparison reads what the next GPU layer would see.
  Blob device_copy(run.top.ptrs[0]->shape());
  blas(Mode::GPU).copy(device_copy.count(), run.top.ptrs[0]->gpu_data(),
                       device_copy.mutable_gpu_data());
  EXPECT_EQ(
      std::vector<float>(device_copy.cpu_data(), device_copy.cpu_data() + device_copy.count()),
      cpu);
}

TEST(DataTransformerTest, SameKeySameOutputAndMirrorReversesRows) {
  const Datum datum = random_datums(1, 1, 3, 4)[0];
  std::vector<float> plain(12), mirrored(12);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) {
      plain[y * 4 + x] = pixel(datum, 0, y, x);
      mirrored[y * 4 + x] = pixel(datum, 0, y, 3 - x);
    }
  }
  ASSERT_NE(plain, mirrored);
  TransformationParameter param;
  param.set_mirror(true);
  DataTransformer transformer(param, TRAIN);
  transformer.SetDatumShape(1, 3, 4);
  std::vector<float> first(12), second(12);
  int mirrors = 0;
  for (uint64_t key = 0; key < 64; ++key) {
    transformer.Transform(datum, key, first.data());
    transformer.Transform(datum, key, second.data());
    EXPECT_EQ(first, second);
    EXPECT_TRUE(first == plain || first == mirrored);
    mirrors += first == mirrored;
  }
  EXPECT_GT(mirrors, 16);
  EXPECT_LT(mirrors, 48);
  DataTransformer test_transformer(param, TEST);
  test_transformer.SetDatumShape(1, 3, 4);
  for (uint64_t key = 0; key < 8; ++key) {
    test_transformer.Transform(datum, key, first.data());
    EXPECT_EQ(first, plain);
  }
  EXPECT_THROW(transformer.Transform(random_datums(1, 1, 3, 5)[0], 0, first.data()), Error);
}

// Datums holding PNG bytes of random channels x height x width images (record i: label i),
// and the raw datums they decode to.
std::pair<std::vector<Datum>, std::vector<Datum>> encoded_datums(int count, int channels,
                                                                 int height, int width) {
  std::vector<Datum> encoded, raw;
  std::mt19937 random(5);
  for (int i = 0; i < count; ++i) {
    Image image{height, width, channels,
                std::vector<uint8_t>(static_cast<size_t>(height) * width * channels)};
    for (uint8_t& value : image.pixels) value = static_cast<uint8_t>(random() & 0xff);
    Datum datum;
    datum.set_encoded(true);
    datum.set_label(i);
    datum.set_data(encode_image(image, ImageFormat::PNG));
    encoded.push_back(datum);
    raw.push_back(image_to_datum(image, i));
  }
  return {encoded, raw};
}

TEST(DataLayerTest, DecodesEncodedRecords) {
  TempDir dir;
  const auto [encoded, raw] = encoded_datums(5, 3, 4, 5);
  write_datums(dir / "db", encoded);
  DataLayerRun run(dir / "db", "", TEST, 2);
  EXPECT_EQ(run.top.ptrs[0]->shape(), (std::vector<int>{2, 3, 4, 5}));
  run.forward(1);
  expect_records(run, raw, {2, 3});

  // force_gray: one luma plane per record.
  DataLayerRun gray(dir / "db", "transform_param { force_gray: true scale: 0.5 }", TEST, 2);
  EXPECT_EQ(gray.top.ptrs[0]->shape(), (std::vector<int>{2, 1, 4, 5}));
  const std::vector<float> values = gray.forward(2);
  Datum expected = encoded[4];
  decode_datum(&expected, ImageChannels::GRAY, "record 4");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(values[i], pixel(expected, 0, i / 5, i % 5) * 0.5f);
}

TEST(DataLayerTest, EncodedRecordsMustDecodeToOneShape) {
  TempDir dir;
  auto [encoded, raw] = encoded_datums(4, 3, 4, 5);
  encoded[2] = encoded_datums(1, 1, 4, 5).first[0];  // a gray image among colour ones
  write_datums(dir / "db", encoded);
  DataLayerRun native(dir / "db", "", TRAIN, 2);
  const std::string message = test::error_of([&] { native.forward(1); });
  EXPECT_NE(message.find("record '00000002'"), std::string::npos) << message;
  EXPECT_NE(message.find("is 1x4x5"), std::string::npos) << message;
  EXPECT_NE(message.find("expected 3x4x5"), std::string::npos) << message;
  // force_color decodes the gray one to three equal planes.
  DataLayerRun colour(dir / "db", "transform_param { force_color: true }", TEST, 2);
  const std::vector<float> values = colour.forward(1);
  Datum gray = encoded[2];
  decode_datum(&gray, ImageChannels::NATIVE, "gray");
  for (int c = 0; c < 3; ++c) EXPECT_EQ(values[c * 20 + 7], pixel(gray, 0, 1, 2));
  for (int i = 0; i < 60; ++i) EXPECT_EQ(values[60 + i], pixel(raw[3], i / 20, (i / 5) % 4, i % 5));
  // data_param.force_encoded_color means the same.
  DataLayerRun legacy(dir / "db", "", TEST, 2, 2, "force_encoded_color: true");
  EXPECT_EQ(legacy.forward(1), values);
}

TEST(DataLayerTest, CorruptEncodedRecordNamesItsKey) {
  TempDir dir;
  auto [encoded, raw] = encoded_datums(3, 3, 4, 4);
  encoded[1].set_data(encoded[1].data().substr(0, 30));
  write_datums(dir / "db", encoded);
  DataLayerRun run(dir / "db", "", TRAIN, 1);
  run.forward(0);
  expect_records(run, raw, {0});
  const std::string message = test::error_of([&] { run.forward(1); });
  EXPECT_NE(message.find("record '00000001' in LMDB"), std::string::npos) << message;
  EXPECT_NE(message.find("is not a readable PNG"), std::string::npos) << message;
}

TEST(DataTransformerTest, CropMirrorMeanFileAndScaleAreExact) {
  TempDir dir;
  const int channels = 2, height = 5, width = 6, crop = 3;
  const Datum datum = random_datums(1, channels, height, width)[0];
  BlobProto mean;
  for (int dim : {1, channels, height, width}) mean.mutable_shape()->add_dim(dim);
  for (int i = 0; i < channels * height * width; ++i) mean.add_data(0.75f * i - 20.0f);
  write_proto_to_binary_file(mean, dir / "mean.binaryproto");
  TransformationParameter param;
  param.set_crop_size(crop);
  param.set_mirror(true);
  param.set_scale(0.125f);
  param.set_mean_file(dir / "mean.binaryproto");
  // The expected output for a crop at (dy, dx), maybe mirrored: the full-size mean is taken at
  // the same source position as the pixel, then the difference is scaled.
  const auto expected = [&](int dy, int dx, bool mirror) {
    std::vector<float> out;
    for (int c = 0; c < channels; ++c) {
      for (int y = 0; y < crop; ++y) {
        for (int x = 0; x < crop; ++x) {
          const int sy = y + dy, sx = (mirror ? crop - 1 - x : x) + dx;
          out.push_back((pixel(datum, c, sy, sx) - mean.data((c * height + sy) * width + sx)) *
                        0.125f);
        }
      }
    }
    return out;
  };
  std::vector<float> out(channels * crop * crop);
  DataTransformer test_transformer(param, TEST);
  test_transformer.SetDatumShape(channels, height, width);
  test_transformer.Transform(datum, 12, out.data());
  EXPECT_EQ(out, expected(1, 1, false));  // centre: (5 - 3) / 2, (6 - 3) / 2

  DataTransformer train(param, TRAIN);
  train.SetDatumShape(channels, height, width);
  std::set<std::tuple<int, int, bool>> seen;
  for (uint64_t key = 0; key < 200; ++key) {
    train.Transform(datum, key, out.data());
    int matches = 0;
    for (int dy = 0; dy <= height - crop; ++dy) {
      for (int dx = 0; dx <= width - crop; ++dx) {
        for (bool mirror : {false, true}) {
          if (out == expected(dy, dx, mirror)) {
            seen.insert({dy, dx, mirror});
            ++matches;
          }
        }
      }
    }
    EXPECT_EQ(matches, 1) << "key " << key;
  }
  EXPECT_EQ(seen.size(), 24u);  // 3 x 4 offsets, both flips

  // mean_value: one per channel, subtracted before scaling.
  TransformationParameter values;
  values.set_scale(2.0f);
  values.add_mean_value(10.0f);
  values.add_mean_value(-3.0f);
  DataTransformer by_value(values, TEST);
  by_value.SetDatumShape(channels, height, width);
  std::vector<float> full(channels * height * width);
  by_value.Transform(datum, 0, full.data());
  for (int i = 0; i < channels * height * width; ++i) {
    const int c = i / (height * width);
    EXPECT_EQ(full[i],
              (pixel(datum, c, (i / width) % height, i % width) - (c ? -3.0f : 10.0f)) * 2.0f);
  }
}

TEST(LmdbTest, WriterGrowsTheMapAndReaderWalksInKeyOrder) {
  TempDir dir;
  const std::string value(20000, 'x');
  {
    db::LmdbEnvironment environment(dir / "db", db::LmdbEnvironment::Access::READ_WRITE, 64 << 10);
    db::LmdbWriter writer(environment, 16);
    for (int i = 99; i >= 0; --i) writer.put(record_key(i), value + std::to_string(i));
    EXPECT_EQ(writer.committed(), 96u);  // six full batches of 16 so far
    writer.commit();
    EXPECT_EQ(writer.committed(), 100u);
  }
  EXPECT_TRUE(db::is_lmdb_directory(dir / "db"));
  auto environment = db::LmdbEnvironment::OpenShared(dir / "db");
  EXPECT_EQ(environment->num_records(), 100u);
  EXPECT_EQ(db::LmdbEnvironment::OpenShared(dir / "db").get(), environment.get());
  db::LmdbReader reader(*environment);
  int count = 0;
  for (bool ok = reader.first(); ok; ok = reader.next(), ++count) {
    EXPECT_EQ(reader.key(), record_key(count));
    EXPECT_EQ(reader.value(), value + std::to_string(count));
  }
  EXPECT_EQ(count, 100);
  EXPECT_THROW(reader.value(), Error);
}

TEST(LmdbTest, UnreadablePathsAreClearErrors) {
  TempDir dir;
  const auto message_of = [](const std::string& path) -> std::string {
    try {
      db::LmdbEnvironment environment(path, db::LmdbEnvironment::Access::READ_ONLY);
    } catch (const Error& error) {
      return error.what();
    }
    return "";
  };
  EXPECT_NE(message_of(dir / "missing").find("does not exist"), std::string::npos);
  fs::create_directory(dir / "plain");
  EXPECT_NE(message_of(dir / "plain").find("is not an LMDB database"), std::string::npos);
  fs::create_directory(dir / "fake");
  std::ofstream(dir / "fake/data.mdb") << std::string(8192, 'z');
  const std::string fake = message_of(dir / "fake");
  EXPECT_NE(fake.find("cannot open LMDB '" + (dir / "fake") + "'"), std::string::npos) << fake;
  EXPECT_NE(fake.find(mdb_strerror(MDB_INVALID)), std::string::npos) << fake;
}

}  // namespace
}  // namespace caffe
