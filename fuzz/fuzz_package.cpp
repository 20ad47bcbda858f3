// libFuzzer harness "package":
// Weight-codec package (caffe/parallel): read_package + decode_payload.  The first byte chooses
// whether the harness repairs the trailing CRC first, so that the fuzzer gets past it.
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(package)
