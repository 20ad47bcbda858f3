// libFuzzer harness "caffemodel":
// Binary NetParameter (.caffemodel): Net::CopyTrainedLayersFrom(file) into a small fixed net.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(caffemodel)
