// Reader for the IDX format of the MNIST files (big-endian header: magic, one uint32 per
// dimension, then the uint8 values).  Plain and gzip-compressed files are read alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace caffe {

// Magic numbers of unsigned-byte IDX files: 0x0803 (3-d images), 0x0801 (1-d labels).
constexpr uint32_t kIdxImagesMagic = 2051;
constexpr uint32_t kIdxLabelsMagic = 2049;

struct IdxArray {
  std::vector<uint32_t> dims;   // e.g. {60000, 28, 28}
  std::vector<uint8_t> values;  // product(dims) bytes, row-major
  // Number of values per item (product of dims after the first).
  size_t item_size() const;
};

// Reads an unsigned-byte IDX file.  Errors name the file: unreadable or corrupt gzip data, a
// magic other than `expected_magic`, or a size that disagrees with the header (a truncated
// file reports the expected and found sizes).
IdxArray read_idx_file(const std::string& path, uint32_t expected_magic);

}  // namespace caffe
