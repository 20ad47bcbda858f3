#include "caffe/data/idx_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// IDX files larger than this are certainly a corrupt header, not data.
constexpr uint64_t kMaxIdxValues = uint64_t{1} << 36;

const char* idx_kind(uint32_t magic) {
  if (magic == kIdxImagesMagic) return "an IDX images file";
  if (magic == kIdxLabelsMagic) return "an IDX labels file";
  return "an IDX file of another kind";
}

// Reads up to `size` bytes (fewer only at the end of the data); gzip errors are fatal.
size_t read_bytes(gzFile file, const std::string& path, uint8_t* out, size_t size) {
  size_t total = 0;
  while (total < size) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - total, INT_MAX / 2));
    const int got = gzread(file, out + total, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      fail("cannot read '", path, "': ", code == Z_ERRNO ? std::strerror(errno) : message);
    }
    if (got == 0) break;
    total += static_cast<size_t>(got);
  }
  return total;
}

// Counts the bytes left after the expected data (to report a file that is too long).
size_t count_remaining(gzFile file, const std::string& path) {
  uint8_t buffer[65536];
  size_t total = 0;
  size_t got;
  while ((got = read_bytes(file, path, buffer, sizeof(buffer))) > 0) total += got;
  return total;
}

// Reads up to `size` bytes, growing the buffer chunk by chunk as the data arrives: memory follows
// the bytes present, never the size a (possibly corrupt) header claims.
std::vector<uint8_t> read_up_to(gzFile file, const std::string& path, uint64_t size) {
  constexpr uint64_t kChunk = uint64_t{1} << 24;
  std::vector<uint8_t> data;
  while (data.size() < size) {
    const size_t start = data.size();
    const size_t chunk = static_cast<size_t>(std::min(kChunk, size - start));
    data.resize(start + chunk);
    const size_t got = read_bytes(file, path, data.data() + start, chunk);
    data.resize(start + got);
    if (got < chunk) break;
  }
  return data;
}

uint32_t big_endian_u32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

std::string dims_string(const std::vector<uint32_t>& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? "x" : "") + std::to_string(dims[i]);
  return text;
}

}  // namespace

size_t IdxArray::item_size() const {
  size_t size = 1;
  for (size_t i = 1; i < dims.size(); ++i) size *= dims[i];
  return size;
}

IdxArray read_idx_file(const std::string& path, uint32_t expected_magic) {
  errno = 0;
  GzFile file(gzopen(path.c_str(), "rb"));  // reads plain files unchanged
  if (!file) fail("cannot open '", path, "': ", errno ? std::strerror(errno) : "out of memory");

  uint8_t magic_bytes[4];
  const size_t magic_read = read_bytes(file.get(), path, magic_bytes, 4);
  if (magic_read < 4) {
    fail("'", path, "' is too short to be an IDX file (", magic_read, " bytes)");
  }
  const uint32_t magic = big_endian_u32(magic_bytes);
  if (magic != expected_magic) {
    fail("'", path, "' has magic number ", magic, " but ", idx_kind(expected_magic), " has ",
         expected_magic,
         magic == kIdxImagesMagic || magic == kIdxLabelsMagic
             ? std::string(" (it is ") + idx_kind(magic) + ": are the arguments swapped?)"
             : std::string(" (not an unsigned-byte IDX file?)"));
  }

  IdxArray array;
  array.dims.resize(magic & 0xff);
  std::vector<uint8_t> header(4 * array.dims.size());
  const size_t header_read = read_bytes(file.get(), path, header.data(), header.size());
  uint64_t values = 1;
  for (size_t i = 0; i < array.dims.size() && header_read == header.size(); ++i) {
    array.dims[i] = big_endian_u32(&header[4 * i]);
    values *= array.dims[i];
    if (values > kMaxIdxValues)
      fail("'", path, "' has an implausible IDX header (dimensions too large)");
  }
  const uint64_t header_size = 4 + header.size();
  const uint64_t expected_size = header_size + (header_read == header.size() ? values : 0);
  if (header_read < header.size()) {
    fail("'", path, "' is truncated: expected at least ", expected_size, " bytes, found ",
         4 + header_read);
  }

  array.values = read_up_to(file.get(), path, values);
  const uint64_t found_size = header_size + array.values.size() + count_remaining(file.get(), path);
  if (found_size != expected_size) {
    fail("'", path, "' is ", found_size < expected_size ? "truncated" : "too long",
         ": its header (", dims_string(array.dims), ") means ", expected_size, " bytes, found ",
         found_size, gzdirect(file.get()) ? "" : " (uncompressed)");
  }
  return array;
}

}  // namespace caffe
