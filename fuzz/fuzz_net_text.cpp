// libFuzzer harness "net_text":
// NetParameter prototxt: read_proto_from_text + upgrade_net_logged (what read_net_param does),
// then, with the fields that name outside files cleared, a Net in phase TEST, forward and back.
#include "fuzz/harness.hpp"
#include "fuzz/proto_mutator.hpp"
#include "proto/caffe.pb.h"

CAFFE_FUZZ_HARNESS(net_text)
CAFFE_FUZZ_PROTOTXT_MUTATOR(caffe::NetParameter)
