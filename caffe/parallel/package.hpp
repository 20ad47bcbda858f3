// The weight codec's self-describing package: its header, layout and checksum, and a parser
// that validates every field before anything uses it.
//
// Layout (multi-byte numbers little-endian):
//   "ACWP"            magic
//   u16 version       kPackageVersion
//   u8  mode          CodecKind
//   u8  bits          N (quantizing modes; 0 for a constant or empty blob and for fp16 / none)
//   u8  rank          number of axes (<= 32)
//   u64 count         number of weights (the product of the axes)
//   f32 w_min, w_max  the range quantized (quantizing modes; else 0)
//   f32 entropy       the sampled estimate H that chose N (quantizing modes; else 0)
//   u64 payload_bits  bits of payload used
//   u32 axes[rank]
//   code lengths      2^N lengths of 5 bits each, most significant bit first, zero-padded to a
//                     byte (quantizing modes with N > 0 only)
//   payload           Huffman codes of the bins (quantizing), halves (fp16) or floats (none)
//   u32 crc           CRC-32 (zlib's) of every byte before it
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace caffe {

enum class CodecKind : uint8_t { kNone = 0, kFp16 = 1, kDynamic = 2, kFixed = 3 };

inline bool quantizes(CodecKind kind) {
  return kind == CodecKind::kDynamic || kind == CodecKind::kFixed;
}

constexpr uint16_t kPackageVersion = 1;
constexpr int kMaxPackageAxes = 32;
// A package holds one blob: at most as many weights as a blob (INT_MAX).  A constant blob's
// package has no payload, so this bound is all that limits what decoding it allocates.
constexpr uint64_t kMaxPackageCount = 2147483647;

struct PackageHeader {
  CodecKind kind = CodecKind::kDynamic;
  int bits = 0;
  std::vector<int> shape;
  uint64_t count = 0;
  float w_min = 0.0f;
  float w_max = 0.0f;
  float entropy = 0.0f;
  uint64_t payload_bits = 0;
  std::vector<uint8_t> code_lengths;  // 2^bits entries in quantizing modes with bits > 0
};

// Sizes of a package's parts, in bytes.
size_t header_bytes(const PackageHeader& header);
size_t payload_bytes(const PackageHeader& header);
constexpr size_t kChecksumBytes = 4;

// A package with the header written and room for the payload (at header_bytes(header)), to be
// finished by seal_package once the payload is in.
std::vector<uint8_t> start_package(const PackageHeader& header);
// Writes the checksum of everything before the last 4 bytes into them.
void seal_package(std::vector<uint8_t>& package);

struct ParsedPackage {
  PackageHeader header;
  const uint8_t* payload = nullptr;
  size_t header_size = 0;
  size_t payload_size = 0;
};

// Reads and validates a package: magic, version, every field's range, the sizes against the
// bytes present, the checksum, and (quantizing modes) that the code lengths form a prefix code
// and agree with the payload's bit count.  caffe::Error saying what is wrong otherwise.
ParsedPackage parse_package(const uint8_t* data, size_t size);

}  // namespace caffe
