// compute_image_mean [--backend lmdb] INPUT_DB [OUTPUT_FILE]: the mean image (a 1 x C x H x W
// BlobProto, for transform_param.mean_file) of an LMDB of Datums, raw or encoded; prints the
// per-channel means and, given OUTPUT_FILE, writes the mean there atomically.
#include <gflags/gflags.h>

#include <iostream>

#include "caffe/core/common.hpp"
#include "caffe/data/image_mean.hpp"
#include "caffe/util/io.hpp"

DEFINE_string(backend, "lmdb", "Database backend; only lmdb is supported");

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "averages the Datums of an LMDB into a mean image (a BlobProto for mean_file)\n"
      "Usage:\n"
      "    compute_image_mean [FLAGS] INPUT_DB [OUTPUT_FILE]\n");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc < 2 || argc > 3) {
      caffe::fail("expected INPUT_DB [OUTPUT_FILE], got ", argc - 1, " arguments\n",
                  gflags::ProgramUsage());
    }
    if (FLAGS_backend != "lmdb") {
      caffe::fail("backend '", FLAGS_backend, "' is not supported; use --backend=lmdb");
    }
    const caffe::ImageMean mean = caffe::compute_image_mean(argv[1]);
    if (argc == 3) caffe::write_proto_to_binary_file(mean.mean, argv[2]);
    std::cout << "Processed " << mean.records << " records" << std::endl;
    std::cout << "Number of channels: " << mean.channel_means.size() << std::endl;
    for (size_t c = 0; c < mean.channel_means.size(); ++c) {
      std::cout << "mean_value channel [" << c << "]: " << mean.channel_means[c] << std::endl;
    }
    if (argc == 3) std::cout << "Wrote the mean to " << argv[2] << std::endl;
  } catch (const caffe::Error& error) {
    std::cerr << "compute_image_mean: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
