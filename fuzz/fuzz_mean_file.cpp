// libFuzzer harness "mean_file":
// Binary BlobProto (mean file): DataTransformer's mean_file, and Blob::FromProto.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(mean_file)
