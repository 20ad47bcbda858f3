// libFuzzer harness "upgrade":
// V0 / V1 NetParameter prototxt through upgrade_net alone, which must leave a current net.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(upgrade)
