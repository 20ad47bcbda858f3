// Writing and validating weight-codec packages (layout in package.hpp).
#include "caffe/parallel/package.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "caffe/core/common.hpp"
#include "caffe/parallel/bit_stream.hpp"
#include "caffe/parallel/huffman.hpp"

namespace caffe {
namespace {

constexpr uint8_t kMagic[4] = {'A', 'C', 'W', 'P'};
constexpr size_t kMagicAndVersionBytes = 6;
constexpr size_t kFixedHeaderBytes = kMagicAndVersionBytes + 3 + 8 + 3 * 4 + 8;
constexpr int kCodeLengthBits = 5;  // lengths 0..16
constexpr int kMaxBits = kMaxCodeLength;

size_t code_length_bytes(CodecKind kind, int bits) {
  if (!quantizes(kind) || bits == 0) return 0;
  return ((size_t{1} << bits) * kCodeLengthBits + 7) / 8;
}

uint32_t checksum(const uint8_t* data, size_t size) {
  return static_cast<uint32_t>(crc32_z(crc32_z(0, nullptr, 0), data, size));
}

// Little-endian writes at a position the caller sized.
class ByteWriter {
 public:
  explicit ByteWriter(uint8_t* out) : out_(out) {}
  void put(uint64_t value, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) *out_++ = static_cast<uint8_t>(value >> (8 * i));
  }
  void put_float(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    put(bits, 4);
  }
  uint8_t* position() const { return out_; }

 private:
  uint8_t* out_;
};

// Little-endian reads that never pass the end: running out means a truncated header.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t get(size_t bytes) {
    const uint8_t* in = take(bytes);
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i) value |= uint64_t{in[i]} << (8 * i);
    return value;
  }
  float get_float() {
    const auto bits = static_cast<uint32_t>(get(4));
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }
  const uint8_t* take(size_t bytes) {
    if (bytes > size_ - offset_) {
      fail("truncated: the package is ", size_, " bytes and ends inside its header");
    }
    const uint8_t* in = data_ + offset_;
    offset_ += bytes;
    return in;
  }
  size_t offset() const { return offset_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

void check_magic_and_version(const uint8_t* data, size_t size) {
  if (size < sizeof(kMagic)) fail("too short to be a codec package (", size, " bytes)");
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0) {
    fail("wrong magic number: not a codec package");
  }
  if (size < kMagicAndVersionBytes) fail("truncated: the package is ", size, " bytes");
  const int version = data[4] | data[5] << 8;
  if (version != kPackageVersion) {
    fail("unsupported version ", version, " (this build reads version ", kPackageVersion, ")");
  }
}

void check_field_ranges(const PackageHeader& header, int rank) {
  const int kind = static_cast<int>(header.kind);
  if (kind > static_cast<int>(CodecKind::kFixed)) fail("unknown codec mode ", kind);
  if (quantizes(header.kind) ? header.bits > kMaxBits : header.bits != 0) {
    fail("N = ", header.bits, " bits is out of range for its mode");
  }
  if (rank > kMaxPackageAxes) fail(rank, " axes (at most ", kMaxPackageAxes, ")");
  if (header.count > kMaxPackageCount) fail(header.count, " weights is too many");
}

std::vector<int> read_shape(ByteReader& reader, int rank, uint64_t count) {
  std::vector<int> shape(static_cast<size_t>(rank));
  uint64_t product = 1;
  for (int& axis : shape) {
    const uint64_t size = reader.get(4);
    if (size > INT_MAX) fail("axis of ", size, " exceeds the largest blob axis");
    axis = static_cast<int>(size);
    // Saturates above kMaxPackageCount instead of overflowing: it is only compared with count.
    const bool too_many = size != 0 && product > kMaxPackageCount / size;
    product = too_many ? kMaxPackageCount + 1 : product * size;
  }
  if (product != count) {
    fail("the shape holds ", product, " weights but the header says ", count);
  }
  return shape;
}

std::vector<uint8_t> read_code_lengths(ByteReader& reader, CodecKind kind, int bits) {
  const size_t bytes = code_length_bytes(kind, bits);
  if (bytes == 0) return {};
  BitReader lengths_in(reader.take(bytes), bytes);
  std::vector<uint8_t> lengths(size_t{1} << bits);
  for (uint8_t& length : lengths) {
    lengths_in.refill();
    length = static_cast<uint8_t>(lengths_in.peek(kCodeLengthBits));
    lengths_in.skip(kCodeLengthBits);
  }
  return lengths;
}

size_t check_sizes(const PackageHeader& header, size_t size, size_t header_size) {
  const size_t payload = payload_bytes(header);
  const size_t rest = size - header_size;
  if (payload + kChecksumBytes != rest) {
    fail(rest < payload + kChecksumBytes ? "truncated: " : "trailing bytes: ", "the header ",
         "describes ", header_size + payload + kChecksumBytes, " bytes but the package has ", size);
  }
  return payload;
}

void check_checksum(const uint8_t* data, size_t size) {
  const uint8_t* stored = data + size - kChecksumBytes;
  const uint32_t expected =
      stored[0] | stored[1] << 8 | stored[2] << 16 | static_cast<uint32_t>(stored[3]) << 24;
  if (checksum(data, size - kChecksumBytes) != expected) {
    fail("checksum mismatch: the package was damaged in transit or storage");
  }
}

void check_raw_fields(const PackageHeader& header) {
  const uint64_t bits_per_value = header.kind == CodecKind::kFp16 ? 16 : 32;
  if (header.w_min != 0.0f || header.w_max != 0.0f || header.entropy != 0.0f ||
      header.payload_bits != header.count * bits_per_value) {
    fail("inconsistent header for a ", bits_per_value, "-bit raw package");
  }
}

// The code must be a prefix code within the encoder's length limit, use the bins of w_min and
// w_max (both always occur), and account for the payload's bits.
void check_code(const PackageHeader& header) {
  const std::vector<uint8_t>& lengths = header.code_lengths;
  check_prefix_code(lengths, code_length_limit(header.bits));
  if (lengths.front() == 0 || lengths.back() == 0) fail("the code omits the bin of w_min or w_max");
  uint64_t shortest = kMaxCodeLength, longest = 0;
  for (uint8_t length : lengths) {
    if (length == 0) continue;
    shortest = std::min<uint64_t>(shortest, length);
    longest = std::max<uint64_t>(longest, length);
  }
  if (header.payload_bits < header.count * shortest ||
      header.payload_bits > header.count * longest) {
    fail(header.payload_bits, " payload bits cannot hold ", header.count, " codes of ", shortest,
         " to ", longest, " bits");
  }
}

void check_quantized_fields(const PackageHeader& header) {
  if (!std::isfinite(header.w_min) || !std::isfinite(header.w_max) ||
      !(header.entropy >= 0.0f && header.entropy <= kMaxBits)) {
    fail("w_min, w_max or the entropy is not a valid number");
  }
  if (header.bits == 0) {  // a constant or empty blob: no code, no payload
    if (header.w_min != header.w_max || header.payload_bits != 0 || header.entropy != 0.0f ||
        (header.count == 0 && header.w_min != 0.0f)) {
      fail("inconsistent header for a constant blob");
    }
    return;
  }
  if (!(header.w_min < header.w_max)) fail("w_min is not below w_max");
  if (header.count == 0) fail("an empty blob with N = ", header.bits);
  check_code(header);
}

}  // namespace

size_t header_bytes(const PackageHeader& header) {
  return kFixedHeaderBytes + 4 * header.shape.size() + code_length_bytes(header.kind, header.bits);
}

size_t payload_bytes(const PackageHeader& header) {
  return static_cast<size_t>(header.payload_bits / 8 + (header.payload_bits % 8 != 0));
}

std::vector<uint8_t> start_package(const PackageHeader& header) {
  std::vector<uint8_t> package(header_bytes(header) + payload_bytes(header) + kChecksumBytes, 0);
  ByteWriter out(package.data());
  for (uint8_t byte : kMagic) out.put(byte, 1);
  out.put(kPackageVersion, 2);
  out.put(static_cast<uint8_t>(header.kind), 1);
  out.put(static_cast<uint64_t>(header.bits), 1);
  out.put(header.shape.size(), 1);
  out.put(header.count, 8);
  out.put_float(header.w_min);
  out.put_float(header.w_max);
  out.put_float(header.entropy);
  out.put(header.payload_bits, 8);
  for (int axis : header.shape) out.put(static_cast<uint64_t>(axis), 4);
  if (!header.code_lengths.empty()) {
    BitWriter lengths_out(out.position());
    for (uint8_t length : header.code_lengths) lengths_out.put(length, kCodeLengthBits);
    lengths_out.finish();
  }
  return package;
}

void seal_package(std::vector<uint8_t>& package) {
  const size_t body = package.size() - kChecksumBytes;
  ByteWriter(package.data() + body).put(checksum(package.data(), body), kChecksumBytes);
}

ParsedPackage parse_package(const uint8_t* data, size_t size) {
  check_magic_and_version(data, size);
  ByteReader reader(data, size);
  reader.take(kMagicAndVersionBytes);
  ParsedPackage parsed;
  PackageHeader& header = parsed.header;
  header.kind = static_cast<CodecKind>(reader.get(1));
  header.bits = static_cast<int>(reader.get(1));
  const int rank = static_cast<int>(reader.get(1));
  header.count = reader.get(8);
  header.w_min = reader.get_float();
  header.w_max = reader.get_float();
  header.entropy = reader.get_float();
  header.payload_bits = reader.get(8);
  check_field_ranges(header, rank);
  header.shape = read_shape(reader, rank, header.count);
  header.code_lengths = read_code_lengths(reader, header.kind, header.bits);
  parsed.header_size = reader.offset();
  parsed.payload_size = check_sizes(header, size, parsed.header_size);
  parsed.payload = data + parsed.header_size;
  check_checksum(data, size);
  if (quantizes(header.kind)) {
    check_quantized_fields(header);
  } else {
    check_raw_fields(header);
  }
  return parsed;
}

}  // namespace caffe
