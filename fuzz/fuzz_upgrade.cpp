// libFuzzer harness "upgrade":
// V0 / V1 NetParameter prototxt through upgrade_net alone, which must leave a current net.
#include "fuzz/harness.hpp"
#include "fuzz/proto_mutator.hpp"
#include "proto/caffe.pb.h"

CAFFE_FUZZ_HARNESS(upgrade)
CAFFE_FUZZ_PROTOTXT_MUTATOR(caffe::NetParameter)
