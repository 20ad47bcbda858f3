// convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME: writes the images a list file names
// (`path label` per line, paths relative to ROOTFOLDER/) into an LMDB of Datum records under
// keys "%08d_<path>".  Unreadable images are skipped with a warning; see
// caffe/data/convert_imageset.
#include "caffe/data/convert_imageset.hpp"

#include <gflags/gflags.h>

#include <iostream>

#include "caffe/core/common.hpp"

DEFINE_bool(gray, false, "Decode every image to one gray channel (default: 3 channels, BGR)");
DEFINE_bool(shuffle, false, "Write the listed images in a random order (see --shuffle_seed)");
DEFINE_uint64(shuffle_seed, 0, "Seed of the --shuffle order; one seed always gives one order");
DEFINE_string(backend, "lmdb", "Database backend; only lmdb is supported");
DEFINE_int32(resize_width, 0, "Resize every image to this width (needs --resize_height too)");
DEFINE_int32(resize_height, 0, "Resize every image to this height (needs --resize_width too)");
DEFINE_bool(check_size, false, "Fail unless every image has the first image's size");
DEFINE_bool(encoded, false, "Store each image's JPEG / PNG bytes rather than its pixels");
DEFINE_string(encode_type, "",
              "Format of stored encoded images: jpg or png (implies --encoded; default: each "
              "file's own format)");
DEFINE_bool(overwrite, false, "Replace DB_NAME when it already holds an LMDB");

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "writes the images of a list file ('path label' lines, paths relative to ROOTFOLDER/)\n"
      "into an LMDB of Datum records\n"
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
