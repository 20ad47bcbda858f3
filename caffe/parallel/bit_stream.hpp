// Bit-level writing and reading for the weight codec's packages: codes are stored most
// significant bit first, so the codes of one length in a canonical Huffman code are consecutive
// numbers and the decoder's lookup table fills in contiguous ranges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace caffe {

inline void store_be32(uint8_t* out, uint32_t value) {
  value = __builtin_bswap32(value);
  std::memcpy(out, &value, sizeof(value));
}

inline uint64_t load_be64(const uint8_t* in) {
  uint64_t value;
  std::memcpy(&value, in, sizeof(value));
  return __builtin_bswap64(value);
}

// Appends codes to a buffer the caller sized for the exact number of bits (it knows them from
// the histogram before it writes), so put() never checks for room.
class BitWriter {
 public:
  explicit BitWriter(uint8_t* out) : out_(out) {}

  // Appends the low `length` bits of `code` (length <= 32).  Up to 31 bits wait in a 64-bit
  // buffer and leave it as whole 32-bit words: one store per word rather than per code.
  void put(uint32_t code, int length) {
    pending_bits_ = (pending_bits_ << length) | code;
    pending_ += length;
    if (pending_ >= 32) {
      pending_ -= 32;
      store_be32(out_, static_cast<uint32_t>(pending_bits_ >> pending_));
      out_ += 4;
    }
  }

  // Writes the bits still waiting, the last byte padded with zeros; returns the end.
  uint8_t* finish() {
    for (; pending_ >= 8; out_++) {
      pending_ -= 8;
      *out_ = static_cast<uint8_t>(pending_bits_ >> pending_);
    }
    if (pending_ > 0) *out_++ = static_cast<uint8_t>(pending_bits_ << (8 - pending_));
    pending_ = 0;
    return out_;
  }

 private:
  uint8_t* out_;
  uint64_t pending_bits_ = 0;  // the low `pending_` bits are still to be written
  int pending_ = 0;
};

// Reads bits from [data, data + size).  The window holds the next bits left-aligned; past the
// end it is filled with zeros but the position keeps counting, so a damaged stream that reads
// too far shows as consumed() > the bits the package declares: no read ever leaves the buffer.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // Tops the window up to at least 56 valid bits.
  void refill() {
    if (next_ + 8 <= size_) {
      // One unaligned load: the bytes beyond the whole ones counted are loaded again next time
      // at the same place, so or-ing them in twice is harmless.
      window_ |= load_be64(data_ + next_) >> available_;
      next_ += (63 - available_) >> 3;
      available_ |= 56;
      return;
    }
    for (; available_ <= 56; ++next_, available_ += 8) {
      const uint64_t byte = next_ < size_ ? data_[next_] : 0;
      window_ |= byte << (56 - available_);
    }
  }

  // The next `bits` bits (1 <= bits <= 56 after a refill) as a number.
  uint32_t peek(int bits) const { return static_cast<uint32_t>(window_ >> (64 - bits)); }
  void skip(int bits) {
    window_ <<= bits;
    available_ -= bits;
  }
  uint64_t consumed() const { return static_cast<uint64_t>(next_) * 8 - available_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t next_ = 0;      // first byte not yet (wholly) in the window
  uint64_t window_ = 0;  // next bits, most significant first
  int available_ = 0;    // valid bits at the top of window_
};

}  // namespace caffe
