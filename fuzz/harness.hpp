// The libFuzzer entry points of one harness: `CAFFE_FUZZ_HARNESS(net_text)` makes the fuzzer
// run caffe::fuzz::net_text (fuzz/targets.hpp) on every input.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fuzz/targets.hpp"

#define CAFFE_FUZZ_HARNESS(target)                                          \
  extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {    \
    ::caffe::fuzz::init_harness();                                          \
    return 0;                                                               \
  }                                                                         \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    ::caffe::fuzz::target(data, size);                                      \
    return 0;                                                               \
  }
