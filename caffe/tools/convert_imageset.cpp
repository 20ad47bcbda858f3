// convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME: writes the images a list file names
// (`path label` per line, paths relative to ROOTFOLDER/) into an LMDB of Datum records under
// keys "%08d_<path>".  Unreadable images are skipped with a warning; see caffe/data/convert_imageset.
#include <gflags/gflags.h>

#include <iostream>

#include "caffe/core/common.hpp"
#include "caffe/data/convert_imageset.hpp"

DEFINE_bool(gray, false, "When this option is on, treat images as grayscale ones");
DEFINE_bool(shuffle, false, "Randomly shuffle the order of images and their labels");
DEFINE_uint64(shuffle_seed, 0, "Seed of the --shuffle order (the same seed, the same order)");
DEFINE_string(backend, "lmdb", "The backend {lmdb} for storing the result");
DEFINE_int32(resize_width, 0, "Width images are resized to (with --resize_height)");
DEFINE_int32(resize_height, 0, "Height images are resized to (with --resize_width)");
DEFINE_bool(check_size, false, "When this option is on, check that all the datum have the same size");
DEFINE_bool(encoded, false, "When this option is on, the encoded image will be save in datum");
DEFINE_string(encode_type, "", "Optional: What type should we encode the image as ('png','jpg',...).");
DEFINE_bool(overwrite, false, "Replace DB_NAME when it already holds an LMDB");

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Convert a set of images to the lmdb\n"
      "format used as input for Caffe.\n"
      "Usage:\n"
      "    convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME\n");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc != 4) {
      caffe::fail("expected 3 arguments (ROOTFOLDER/ LISTFILE DB_NAME), got ", argc - 1, "\n",
                  gflags::ProgramUsage());
    }
    if (FLAGS_backend != "lmdb") {
      caffe::fail("backend '", FLAGS_backend, "' is not supported; use --backend=lmdb");
    }
    caffe::ImagesetOptions options;
    options.root_folder = argv[1];
    options.gray = FLAGS_gray;
    options.shuffle = FLAGS_shuffle;
    options.shuffle_seed = FLAGS_shuffle_seed;
    options.resize_height = FLAGS_resize_height;
    options.resize_width = FLAGS_resize_width;
    options.check_size = FLAGS_check_size;
    options.encoded = FLAGS_encoded;
    options.encode_type = FLAGS_encode_type;
    options.overwrite = FLAGS_overwrite;
    const caffe::ImagesetConversion done =
        caffe::convert_imageset(argv[2], argv[3], options, std::cerr);
    std::cout << "Wrote " << done.written << " records to " << argv[3] << "; skipped "
              << done.skipped << " unreadable image" << (done.skipped == 1 ? "" : "s") << std::endl;
  } catch (const caffe::Error& error) {
    std::cerr << "convert_imageset: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
