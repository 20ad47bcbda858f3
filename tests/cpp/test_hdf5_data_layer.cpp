// Tests of the HDF5Data layer: batch contents and order across files, wrap-around, top shapes,
// type conversion, path resolution, jumps to any batch (exact resume), shuffling, the Net's
// forward counter, and every user error.  The .h5 files are written with the HDF5 C API.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "caffe/core/net.hpp"
#include "caffe/layers/hdf5_data_layer.hpp"
#include "caffe/util/math_functions.hpp"
#include "test_util.hpp"

#ifdef CAFFE_USE_HDF5
#include <hdf5.h>
#endif

namespace caffe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::error_of;

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// A layer with named tops reading `list`; forward(b) runs the pass for batch index b.
struct Hdf5Fixture {
  std::unique_ptr<Layer> layer;
  test::BlobSet top;

  Hdf5Fixture(const std::string& list, int batch_size, const std::vector<std::string>& tops,
              bool shuffle = false) {
    std::string prototxt = "name: 'h5' type: 'HDF5Data' hdf5_data_param { source: '" + list +
                           "' batch_size: " + std::to_string(batch_size) +
                           (shuffle ? " shuffle: true" : "") + " }";
    for (const std::string& name : tops) prototxt += " top: '" + name + "'";
    layer = test::make_layer(prototxt);
    for (size_t i = 0; i < tops.size(); ++i) top.add({1});
    layer->SetUp({}, top.ptrs);
  }
  std::vector<float> forward(uint64_t batch, size_t top_index = 0) {
    layer->set_step(0, batch);
    layer->Forward({}, top.ptrs);
    const Blob* blob = top.ptrs[top_index];
    return std::vector<float>(blob->cpu_data(), blob->cpu_data() + blob->count());
  }
};

#ifdef CAFFE_USE_HDF5

struct Dataset {
  std::string name;
  std::vector<hsize_t> dims;
  std::vector<float> values;
  hid_t file_type = H5T_IEEE_F32LE;
};

void write_h5(const std::string& path, const std::vector<Dataset>& datasets) {
  fs::create_directories(fs::path(path).parent_path());
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  for (const Dataset& d : datasets) {
    const hid_t space = H5Screate_simple(static_cast<int>(d.dims.size()), d.dims.data(), nullptr);
    const hid_t set = H5Dcreate2(file, d.name.c_str(), d.file_type, space, H5P_DEFAULT,
                                 H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(set, 0) << d.name;
    ASSERT_GE(H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.values.data()), 0);
    H5Dclose(set);
    H5Sclose(space);
  }
  H5Fclose(file);
}

constexpr int kStreams = 3;

// Value of data[s, n] in file f; target is data + 0.5 so rows of the two tops can be matched.
float cell(int file, int step, int stream) { return 100.0f * file + 10.0f * step + stream; }

// A file of `steps` rows with datasets data and target of shape [steps, kStreams].
void write_sequence_file(const std::string& path, int file, int steps) {
  Dataset data{"data", {hsize_t(steps), hsize_t(kStreams)}, {}};
  Dataset target{"target", data.dims, {}};
  for (int s = 0; s < steps; ++s) {
    for (int n = 0; n < kStreams; ++n) {
      data.values.push_back(cell(file, s, n));
      target.values.push_back(cell(file, s, n) + 0.5f);
    }
  }
  write_h5(path, {data, target});
}

// Sequence files listed in order, file f (from 1) with steps[f - 1] rows; by default file 1 has
// 5 rows and file 2 has 4: 9 rows in all.
struct SequenceFiles {
  TempDir dir;
  std::string list = dir / "list.txt";
  // Global row g is (file, step) = rows[g].
  std::vector<std::pair<int, int>> rows;

  explicit SequenceFiles(const std::vector<int>& steps = {5, 4}) {
    const char* names[] = {"one.h5", "two.h5", "three.h5"};
    std::string listing;
    for (size_t f = 0; f < steps.size(); ++f) {
      write_sequence_file(dir / names[f], static_cast<int>(f) + 1, steps[f]);
      listing += dir / names[f] + (f == 0 ? "\n\n  " : "  \n");  // blank lines, spaces: ignored
      for (int s = 0; s < steps[f]; ++s) rows.emplace_back(static_cast<int>(f) + 1, s);
    }
    write_text(list, listing);
  }
  // The data top expected for batch b of size batch_size.
  std::vector<float> expected_batch(uint64_t b, int batch_size) const {
    std::vector<float> values;
    for (int k = 0; k < batch_size; ++k) {
      const auto [file, step] = rows[(b * batch_size + k) % rows.size()];
      for (int n = 0; n < kStreams; ++n) values.push_back(cell(file, step, n));
    }
    return values;
  }
};

TEST(HDF5DataLayerTest, TopIsBatchRowsByTheDatasetsTrailingDims) {
  TempDir dir;
  std::vector<float> ramp(4 * 2 * 3);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i);
  write_h5(dir / "a.h5", {{"seq", {4, 2, 3}, ramp}, {"label", {4}, {7, 8, 9, 10}}});
  write_text(dir / "list.txt", dir / "a.h5");
  Hdf5Fixture f(dir / "list.txt", 3, {"seq", "label"});
  EXPECT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{3, 2, 3}));
  EXPECT_EQ(f.top.ptrs[1]->shape(), (std::vector<int>{3}));
  EXPECT_EQ(f.forward(0, 1), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(f.forward(0, 0), std::vector<float>(ramp.begin(), ramp.begin() + 18));
  EXPECT_EQ(static_cast<HDF5DataLayer&>(*f.layer).num_rows(), 4u);
}

TEST(HDF5DataLayerTest, BatchesAreTimeMajorRowsAcrossFilesThenWrap) {
  SequenceFiles files;
  Hdf5Fixture f(files.list, 4, {"data", "target"});
  ASSERT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{4, kStreams}));
  const auto& layer = static_cast<HDF5DataLayer&>(*f.layer);
  EXPECT_EQ(layer.num_rows(), 9u);
  EXPECT_EQ(layer.file_paths(),
            (std::vector<std::string>{files.dir / "one.h5", files.dir / "two.h5"}));
  // Batch 1 = rows 4..7: the last row of file one, then three of file two.  Batch 2 = rows
  // 8, 0, 1, 2: it wraps to the start.
  for (uint64_t b = 0; b < 7; ++b) {
    const std::vector<float> data = f.forward(b, 0);
    EXPECT_EQ(data, files.expected_batch(b, 4)) << "batch " << b;
    const std::vector<float> target = f.forward(b, 1);
    for (size_t i = 0; i < data.size(); ++i) EXPECT_EQ(target[i], data[i] + 0.5f);
  }
  EXPECT_EQ(f.forward(1)[0], cell(1, 4, 0));
  EXPECT_EQ(f.forward(1)[3], cell(2, 0, 0));
  EXPECT_EQ(f.forward(2)[3], cell(1, 0, 0));
}

TEST(HDF5DataLayerTest, BatchLargerThanTheDataWrapsWithinOneBatch) {
  SequenceFiles files;
  Hdf5Fixture f(files.list, 20, {"data"});
  EXPECT_EQ(f.forward(0), files.expected_batch(0, 20));
  EXPECT_EQ(f.forward(3), files.expected_batch(3, 20));
}

TEST(HDF5DataLayerTest, BatchSpanningMoreFilesThanTheCacheHolds) {
  SequenceFiles files({2, 1, 2});
  Hdf5Fixture f(files.list, 4, {"data"});
  for (uint64_t b : {0, 1, 2, 3, 1, 0}) EXPECT_EQ(f.forward(b), files.expected_batch(b, 4)) << b;
}

TEST(HDF5DataLayerTest, JumpingToABatchGivesWhatASequentialRunReads) {
  SequenceFiles files;
  Hdf5Fixture sequential(files.list, 4, {"data"});
  std::vector<std::vector<float>> batches;
  for (uint64_t b = 0; b < 12; ++b) batches.push_back(sequential.forward(b));
  Hdf5Fixture resumed(files.list, 4, {"data"});
  for (uint64_t b : {9, 2, 11, 0, 5, 5}) EXPECT_EQ(resumed.forward(b), batches[b]) << "batch " << b;
}

TEST(HDF5DataLayerTest, NetForwardReadsConsecutiveBatchesAndResumesWithSetStep) {
  SequenceFiles files;
  Net net(
      test::net_param("name: 'n' layer { name: 'h5' type: 'HDF5Data' top: 'data' "
                      "top: 'target' hdf5_data_param { source: '" +
                      files.list + "' batch_size: 4 } }"));
  const auto data = [&] {
    const Blob* blob = net.blob_by_name("data");
    return std::vector<float>(blob->cpu_data(), blob->cpu_data() + blob->count());
  };
  for (uint64_t b = 0; b < 3; ++b) {
    net.Forward();
    EXPECT_EQ(data(), files.expected_batch(b, 4)) << "batch " << b;
  }
  net.set_step(40, 40);
  net.Forward();
  EXPECT_EQ(data(), files.expected_batch(40, 4));
}

TEST(HDF5DataLayerTest, IntegerAndDoubleDatasetsAreReadAsFloat) {
  TempDir dir;
  write_h5(dir / "a.h5", {{"ids", {3, 2}, {0, 1, 2, 9999, 70000, 5}, H5T_STD_I32LE},
                          {"weights", {3}, {0.25f, -1.5f, 3}, H5T_IEEE_F64LE}});
  write_text(dir / "list.txt", dir / "a.h5");
  Hdf5Fixture f(dir / "list.txt", 3, {"ids", "weights"});
  EXPECT_EQ(f.forward(0, 0), (std::vector<float>{0, 1, 2, 9999, 70000, 5}));
  EXPECT_EQ(f.forward(0, 1), (std::vector<float>{0.25f, -1.5f, 3}));
}

// Restores the working directory at the end of the scope.
struct WorkingDirectory {
  fs::path saved = fs::current_path();
  explicit WorkingDirectory(const fs::path& to) { fs::current_path(to); }
  ~WorkingDirectory() { fs::current_path(saved); }
};

TEST(HDF5DataLayerTest, RelativeNamesResolveInTheWorkingDirectoryThenBesideTheList) {
  TempDir dir;
  write_h5(dir / "a.h5", {{"data", {1}, {1}}});
  write_h5(dir / "lists/a.h5", {{"data", {1}, {2}}});
  write_h5(dir / "lists/b.h5", {{"data", {1}, {3}}});
  write_text(dir / "lists/list.txt", "a.h5\nb.h5\n");
  WorkingDirectory in_dir(dir.path());
  Hdf5Fixture f("lists/list.txt", 2, {"data"});
  // a.h5 exists in the working directory (value 1); b.h5 only beside the list (value 3).
  EXPECT_EQ(f.forward(0), (std::vector<float>{1, 3}));
}

TEST(HDF5DataLayerTest, ShuffleIsAPerEpochPermutationRecomputableFromTheBatchIndex) {
  const uint64_t saved_seed = random_seed();
  set_random_seed(1234);
  SequenceFiles files;
  // Batch size 3 divides the 9 rows: batches 3e..3e+2 are exactly epoch e.
  Hdf5Fixture sequential(files.list, 3, {"data", "target"}, true);
  std::vector<std::vector<float>> epochs(3);
  std::vector<std::vector<float>> batches;
  for (uint64_t b = 0; b < 9; ++b) {
    batches.push_back(sequential.forward(b));
    const std::vector<float> target = sequential.forward(b, 1);
    for (size_t i = 0; i < target.size(); ++i) EXPECT_EQ(target[i], batches[b][i] + 0.5f);
    epochs[b / 3].insert(epochs[b / 3].end(), batches[b].begin(), batches[b].end());
  }
  const std::vector<float> in_order = files.expected_batch(0, 9);
  const std::multiset<float> all_cells(in_order.begin(), in_order.end());
  for (const std::vector<float>& epoch : epochs) {
    EXPECT_EQ(std::multiset<float>(epoch.begin(), epoch.end()), all_cells);
    // Rows stay whole: the three streams of a row move together.
    for (size_t r = 0; r < epoch.size(); r += kStreams) {
      EXPECT_EQ(epoch[r + 1], epoch[r] + 1);
      EXPECT_EQ(epoch[r + 2], epoch[r] + 2);
    }
  }
  EXPECT_NE(epochs[0], in_order);
  EXPECT_NE(epochs[0], epochs[1]);
  Hdf5Fixture resumed(files.list, 3, {"data"}, true);
  for (uint64_t b : {7, 1, 4, 8, 0}) EXPECT_EQ(resumed.forward(b), batches[b]) << "batch " << b;
  set_random_seed(saved_seed);
}

// Row `position` of a data top laid out kStreams values per row.
std::vector<float> row_of(const std::vector<float>& rows, size_t position) {
  return std::vector<float>(rows.begin() + position * kStreams,
                            rows.begin() + (position + 1) * kStreams);
}

TEST(HDF5DataLayerTest, TrainingShardReadsEveryKthRowAcrossFilesAndEpochs) {
  SequenceFiles files;  // 9 rows: 5 in file one, 4 in file two
  const std::vector<float> stream = files.expected_batch(0, 36);  // four epochs in order
  const test::TrainingShardScope shard(1, 2);                     // stream rows 1, 3, 5, ...
  Hdf5Fixture f(files.list, 4, {"data", "target"});
  for (uint64_t b : {3, 0, 1, 2}) {
    const std::vector<float> data = f.forward(b);
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(row_of(data, k), row_of(stream, 2 * (4 * b + k) + 1))
          << "batch " << b << " row " << k;
    }
    const std::vector<float> target = f.forward(b, 1);
    for (size_t i = 0; i < data.size(); ++i) EXPECT_EQ(target[i], data[i] + 0.5f);
  }
}

TEST(HDF5DataLayerTest, ShuffledShardsSplitEachEpochOfTheShuffledStream) {
  const uint64_t saved_seed = random_seed();
  set_random_seed(99);
  SequenceFiles files;
  Hdf5Fixture whole(files.list, 9, {"data"}, true);
  const std::vector<float> epoch0 = whole.forward(0);
  for (uint64_t rank = 0; rank < 3; ++rank) {
    const test::TrainingShardScope shard(rank, 3);
    Hdf5Fixture part(files.list, 3, {"data"}, true);
    const std::vector<float> batch = part.forward(0);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(row_of(batch, k), row_of(epoch0, rank + 3 * k)) << "rank " << rank << " row " << k;
    }
  }
  set_random_seed(saved_seed);
}

TEST(HDF5DataLayerTest, GpuModeReadsTheSameBatches) {
  SKIP_IF_NO_GPU();
  SequenceFiles files;
  Hdf5Fixture f(files.list, 4, {"data"});
  test::GpuModeScope gpu;
  f.layer->set_step(0, 1);
  f.layer->Forward({}, f.top.ptrs);
  // Copy on the device, then read back: checks the values the next layer would see there.
  const Blob& top = *f.top.ptrs[0];
  Blob device_copy(top.shape());
  blas(Mode::GPU).copy(top.count(), top.gpu_data(), device_copy.mutable_gpu_data());
  EXPECT_EQ(std::vector<float>(device_copy.cpu_data(), device_copy.cpu_data() + top.count()),
            files.expected_batch(1, 4));
}

// ---- user errors ----

std::string setup_error(const std::string& list, int batch_size,
                        const std::vector<std::string>& tops) {
  return error_of([&] { Hdf5Fixture probe(list, batch_size, tops); });
}

TEST(HDF5DataLayerTest, MissingListFileIsNamed) {
  TempDir dir;
  const std::string message = setup_error(dir / "nope.txt", 2, {"data"});
  EXPECT_NE(message.find("hdf5_data_param.source '" + dir / "nope.txt" + "' does not exist"),
            std::string::npos) << message;
  EXPECT_NE(message.find("layer 'h5' (HDF5Data)"), std::string::npos) << message;
}

TEST(HDF5DataLayerTest, MissingH5FileNamesItAndTheListLine) {
  TempDir dir;
  write_text(dir / "list.txt", "\nmissing.h5\n");
  const std::string message = setup_error(dir / "list.txt", 2, {"data"});
  EXPECT_NE(message.find("'missing.h5' (" + dir / "list.txt" + ":2) exists neither in the current "
                         "directory"), std::string::npos) << message;
  write_text(dir / "list.txt", dir / "gone.h5");
  EXPECT_NE(setup_error(dir / "list.txt", 2, {"data"}).find("gone.h5' (" + dir / "list.txt" +
                                                           ":1) does not exist"),
            std::string::npos);
}

TEST(HDF5DataLayerTest, MissingDatasetNamesTheTopTheFileAndWhatIsThere) {
  SequenceFiles files;
  const std::string message = setup_error(files.list, 2, {"data", "cont"});
  EXPECT_NE(message.find("top 'cont' reads dataset 'cont', but '" + files.dir / "one.h5" +
                         "' has no such dataset (datasets present: data, target)"),
            std::string::npos) << message;
}

TEST(HDF5DataLayerTest, DatasetsOfAFileMustShareTheirRowCount) {
  TempDir dir;
  write_h5(dir / "a.h5", {{"data", {3, 2}, {1, 2, 3, 4, 5, 6}}, {"target", {2, 2}, {1, 2, 3, 4}}});
  write_text(dir / "list.txt", dir / "a.h5");
  const std::string message = setup_error(dir / "list.txt", 2, {"data", "target"});
  EXPECT_NE(message.find("datasets of '" + dir / "a.h5" + "' have different row counts: 'data' has "
                         "3 rows but 'target' has 2"), std::string::npos) << message;
}

TEST(HDF5DataLayerTest, FilesMustAgreeOnTheRowShape) {
  TempDir dir;
  write_h5(dir / "a.h5", {{"data", {2, 2}, {1, 2, 3, 4}}});
  write_h5(dir / "b.h5", {{"data", {2, 3}, {1, 2, 3, 4, 5, 6}}});
  write_text(dir / "list.txt", dir / "a.h5\n" + dir / "b.h5\n");
  const std::string message = setup_error(dir / "list.txt", 2, {"data"});
  EXPECT_NE(message.find("dataset 'data' has rows of shape [3] in '" + dir / "b.h5" + "' but [2]"),
            std::string::npos) << message;
}

TEST(HDF5DataLayerTest, ZeroBatchSizeEmptyListAndMissingSourceAreRejected) {
  SequenceFiles files;
  EXPECT_NE(setup_error(files.list, 0, {"data"}).find("batch_size must be positive"),
            std::string::npos);
  write_text(files.dir / "empty.txt", "\n  \n");
  EXPECT_NE(setup_error(files.dir / "empty.txt", 2, {"data"}).find("lists no .h5 files"),
            std::string::npos);
  EXPECT_NE(setup_error("", 2, {"data"}).find("hdf5_data_param.source is not set"),
            std::string::npos);
}

TEST(HDF5DataLayerTest, NonHdf5FileAndEmptyDatasetAreRejected) {
  TempDir dir;
  write_text(dir / "text.h5", "not hdf5");
  write_text(dir / "list.txt", dir / "text.h5");
  EXPECT_NE(setup_error(dir / "list.txt", 2, {"data"}).find("not an HDF5 file"), std::string::npos);
  write_h5(dir / "empty.h5", {{"data", {0, 2}, {}}});
  write_text(dir / "list.txt", dir / "empty.h5");
  EXPECT_NE(setup_error(dir / "list.txt", 2, {"data"}).find("has no rows"), std::string::npos);
}

#else  // !CAFFE_USE_HDF5

TEST(HDF5DataLayerTest, BuildWithoutHdf5SaysSo) {
  TempDir dir;
  write_text(dir / "list.txt", "a.h5\n");
  const std::string message =
      error_of([&] { Hdf5Fixture probe(dir / "list.txt", 2, {"data"}); });
  EXPECT_NE(message.find("built without HDF5"), std::string::npos) << message;
}

#endif  // CAFFE_USE_HDF5

}  // namespace
}  // namespace caffe
