// libFuzzer harness "image":
// Image bytes through convert_imageset's decoder: decode_image, channel conversion, resizing,
// the raw Datum and re-encoding.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(image)
