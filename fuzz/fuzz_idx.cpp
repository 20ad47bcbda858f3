// libFuzzer harness "idx":
// IDX file (convert_mnist_data): read_idx_file as images and as labels.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(idx)
