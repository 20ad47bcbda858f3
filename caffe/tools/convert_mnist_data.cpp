// convert_mnist_data IMAGES LABELS DB_PATH: writes MNIST-format IDX files (plain or .gz) into
// an LMDB of Datum records (1 x rows x cols uint8 pixels + label) under keys "%08d".
#include <gflags/gflags.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include "caffe/core/common.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/idx_reader.hpp"
#include "proto/caffe.pb.h"

DEFINE_bool(overwrite, false, "Replace DB_PATH when it already holds an LMDB");
DEFINE_string(backend, "lmdb", "Database backend; only lmdb is supported");

namespace {

namespace fs = std::filesystem;

// Makes room for a new database at `path`: refuses an existing one unless `overwrite`, and
// never deletes anything that is not an LMDB (a typo must not cost the user a folder).
void prepare_output(const std::string& path, bool overwrite) {
  std::error_code error;
  if (!fs::exists(path, error)) return;
  if (!overwrite) caffe::fail("'", path, "' already exists; pass --overwrite to replace it");
  if (caffe::db::is_lmdb_directory(path)) {
    fs::remove(fs::path(path) / "data.mdb", error);
    if (!error) fs::remove(fs::path(path) / "lock.mdb", error);
    if (error) caffe::fail("cannot remove the old LMDB in '", path, "': ", error.message());
    return;
  }
  if (!fs::is_directory(path, error) || !fs::is_empty(path, error)) {
    caffe::fail("refusing to overwrite '", path, "': it is not an LMDB directory");
  }
}

std::string record_key(size_t index) {
  char key[32];
  std::snprintf(key, sizeof(key), "%08zu", index);
  return key;
}

void convert(const std::string& images_path, const std::string& labels_path,
               const std::string& db_path) {
  const caffe::IdxArray images = caffe::read_idx_file(images_path, caffe::kIdxImagesMagic);
  const caffe::IdxArray labels = caffe::read_idx_file(labels_path, caffe::kIdxLabelsMagic);
  if (images.dims[0] != labels.dims[0]) {
    caffe::fail("'", images_path, "' holds ", images.dims[0], " images but '", labels_path,
                "' holds ", labels.dims[0], " labels");
  }
  prepare_output(db_path, FLAGS_overwrite);

  caffe::db::LmdbEnvironment environment(db_path, caffe::db::LmdbEnvironment::Access::READ_WRITE);
  caffe::db::LmdbWriter writer(environment);
  caffe::Datum datum;
  datum.set_channels(1);
  datum.set_height(static_cast<int>(images.dims[1]));
  datum.set_width(static_cast<int>(images.dims[2]));
  const size_t pixels = images.item_size();
  std::string value;
  for (size_t i = 0; i < images.dims[0]; ++i) {
    datum.set_data(images.values.data() + i * pixels, pixels);
    datum.set_label(labels.values[i]);
    datum.SerializeToString(&value);
    writer.put(record_key(i), value);
  }
  writer.commit();
  std::cout << "Wrote " << writer.committed() << " records of 1x" << images.dims[1] << "x"
            << images.dims[2] << " to " << db_path << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "converts MNIST IDX files (plain or .gz) into an LMDB of Datum records\n"
      "Usage: convert_mnist_data [--overwrite] IMAGES LABELS DB_PATH");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc != 4) {
      caffe::fail("expected 3 arguments (IMAGES LABELS DB_PATH), got ", argc - 1,
                  "\n", gflags::ProgramUsage());
    }
    if (FLAGS_backend != "lmdb") {
      caffe::fail("backend '", FLAGS_backend, "' is not supported; use --backend=lmdb");
    }
    convert(argv[1], argv[2], argv[3]);
  } catch (const caffe::Error& error) {
    std::cerr << "convert_mnist_data: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
