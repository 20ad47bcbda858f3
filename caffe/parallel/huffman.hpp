// Canonical, length-limited Huffman codes over the bins of the weight quantizer: code lengths
// from a histogram, their validation, and table-driven encoding and decoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace caffe {

// The longest code any package may hold; also the most quantization bits (an alphabet of 2^16
// bins always has a code no longer than 16 bits).
constexpr int kMaxCodeLength = 16;

// Longest code the encoder emits for an alphabet of 2^bits symbols: 12 bits keep the decoder's
// lookup table at 4096 entries (16 KiB, resident in L1), which matters because each lookup waits
// for the previous one.  Larger alphabets need as many bits as they have.
int code_length_limit(int bits);

// Lengths of a Huffman code for `histogram` with no code longer than `limit` (0 for unused
// symbols).  At least one symbol must be used, and no more than 2^limit.
std::vector<uint8_t> huffman_code_lengths(const std::vector<uint64_t>& histogram, int limit);

// caffe::Error unless `lengths` describe a prefix code: some symbol used, no length over
// `limit`, and a Kraft sum of at most 1.
void check_prefix_code(const std::vector<uint8_t>& lengths, int limit);

// Writes symbols with the canonical code of given lengths.
class HuffmanEncoder {
 public:
  explicit HuffmanEncoder(const std::vector<uint8_t>& lengths);

  // Bits the symbols counted in `histogram` take.
  uint64_t encoded_bits(const std::vector<uint64_t>& histogram) const;
  // Writes the codes of symbols[0, count) to `out`, which must hold encoded_bits / 8 rounded up.
  void encode(const uint16_t* symbols, size_t count, uint8_t* out) const;

 private:
  std::vector<uint32_t> table_;  // per symbol: code << 8 | length
};

// Reads symbols of the canonical code of given lengths, one table lookup per symbol.
class HuffmanDecoder {
 public:
  // Checks the lengths (check_prefix_code with kMaxCodeLength) before building the table.
  explicit HuffmanDecoder(const std::vector<uint8_t>& lengths);

  // Decodes `count` symbols from payload[0, size) and writes values[symbol] for each (`values`
  // has an entry per symbol).  Returns the bits read, which exceed the payload's when the data
  // is damaged (the caller compares); caffe::Error on a bit pattern that starts no code.
  uint64_t decode(const uint8_t* payload, size_t size, const float* values, float* out,
                  size_t count) const;

 private:
  int lookup_bits_ = 0;          // the longest code length
  std::vector<uint32_t> table_;  // per lookup_bits_-bit prefix: symbol << 8 | length; 0 = none
};

}  // namespace caffe
