// libFuzzer harness "datum":
// A Datum record as the Data layer decodes it (parse_datum, image decoding of encoded records)
// and transforms it (crop, mirror, mean values).
#include "fuzz/harness.hpp"

CAFFE_FUZZ_HARNESS(datum)
