// libFuzzer harness "schedule":
// Binary DropoutSchedule: the approximate-dropout schedule reader, and a layer in TRAIN using it.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(schedule)
