// MNIST IDX files -> LMDB of Datum records, the work behind tools/convert_mnist_data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace caffe {

struct MnistConversion {
  size_t records = 0;
  uint32_t rows = 0;
  uint32_t cols = 0;
};

// Reads IMAGES and LABELS (IDX, plain or .gz; magic numbers, counts and sizes are checked
// before anything is written) and writes one Datum per example (1 x rows x cols uint8 pixels,
// the label) under keys "%08d" into the LMDB directory `db_path`.  An existing `db_path` is an
// error unless `overwrite`, and even then only an LMDB (or an empty folder) is replaced.
MnistConversion convert_mnist_to_lmdb(const std::string& images_path,
                                      const std::string& labels_path, const std::string& db_path,
                                      bool overwrite);

}  // namespace caffe
