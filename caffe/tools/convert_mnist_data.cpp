// convert_mnist_data IMAGES LABELS DB_PATH: writes MNIST-format IDX files (plain or .gz) into
// an LMDB of Datum records (1 x rows x cols uint8 pixels + label) under keys "%08d".
#include <gflags/gflags.h>

#include <iostream>

#include "caffe/core/common.hpp"
#include "caffe/data/convert_mnist.hpp"

DEFINE_bool(overwrite, false, "Replace DB_PATH when it already holds an LMDB");
DEFINE_string(backend, "lmdb", "Database backend; only lmdb is supported");

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "converts MNIST IDX files (plain or .gz) into an LMDB of Datum records\n"
      "Usage: convert_mnist_data [--overwrite] IMAGES LABELS DB_PATH");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc != 4) {
      caffe::fail("expected 3 arguments (IMAGES LABELS DB_PATH), got ", argc - 1, "\n",
                  gflags::ProgramUsage());
    }
    if (FLAGS_backend != "lmdb") {
      caffe::fail("backend '", FLAGS_backend, "' is not supported; use --backend=lmdb");
    }
    const caffe::MnistConversion done =
        caffe::convert_mnist_to_lmdb(argv[1], argv[2], argv[3], FLAGS_overwrite);
    std::cout << "Wrote " << done.records << " records of 1x" << done.rows << "x" << done.cols
              << " to " << argv[3] << std::endl;
  } catch (const caffe::Error& error) {
    std::cerr << "convert_mnist_data: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
