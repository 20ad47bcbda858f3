// libFuzzer harness "lists":
// Text list files: an image list (ImageData, convert_imageset) and an HDF5 source list.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(lists)
