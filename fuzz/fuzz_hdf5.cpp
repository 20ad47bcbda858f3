// libFuzzer harness "hdf5":
// .h5 file: the HDF5Data layer's setup and two forward passes.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(hdf5)
