// Canonical, length-limited Huffman codes: lengths from a histogram (two-queue Huffman, then a
// length-limiting repair), validation, and the table-driven encoder and decoder.
#include "caffe/parallel/huffman.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <array>

#include "caffe/core/common.hpp"
#include "caffe/parallel/bit_stream.hpp"

namespace caffe {
namespace {

constexpr int kFastLookupBits = 12;

// Depth of each leaf of a Huffman tree over `weights` (ascending).  Merged nodes are created in
// ascending weight order, so the two smallest are always at the front of either the leaves or
// the merged nodes: no heap needed.
std::vector<uint32_t> huffman_depths(const std::vector<uint64_t>& weights) {
  const size_t leaves = weights.size();
  const size_t nodes = 2 * leaves - 1;
  std::vector<uint64_t> weight(nodes);
  std::vector<size_t> parent(nodes, 0);
  std::copy(weights.begin(), weights.end(), weight.begin());
  size_t next_leaf = 0, next_merged = leaves;
  for (size_t node = leaves; node < nodes; ++node) {
    for (int child = 0; child < 2; ++child) {
      // Ties go to the leaf, which keeps the tree shallow.
      const bool leaf =
          next_leaf < leaves && (next_merged == node || weight[next_leaf] <= weight[next_merged]);
      const size_t pick = leaf ? next_leaf++ : next_merged++;
      parent[pick] = node;
      weight[node] += weight[pick];
    }
  }
  std::vector<uint32_t> depth(nodes, 0);
  for (size_t node = nodes - 1; node-- > 0;) depth[node] = depth[parent[node]] + 1;
  depth.resize(leaves);
  return depth;
}

// Makes `lengths` (of symbols in ascending frequency) fit in `limit` bits: clamp the long codes,
// which over-subscribes the code space (Kraft sum > 1); then lengthen the least frequent codes
// that are still shorter than the limit, which costs the fewest bits, until the code fits; then
// shorten the most frequent codes into any space the last step freed.  Counted in units of
// 2^-limit, a code of length l takes 2^(limit - l) units of the 2^limit available.
void limit_lengths(std::vector<uint32_t>& lengths, int limit) {
  const uint32_t cap = static_cast<uint32_t>(limit);
  const uint64_t capacity = uint64_t{1} << limit;
  uint64_t used = 0;
  for (uint32_t& length : lengths) {
    length = std::min(length, cap);
    used += uint64_t{1} << (cap - length);
  }
  // Ends: with every code at the limit the sum is the symbol count, at most the capacity.
  for (size_t i = 0; used > capacity;) {
    if (lengths[i] == cap) {
      ++i;
      continue;
    }
    ++lengths[i];
    used -= uint64_t{1} << (cap - lengths[i]);
  }
  for (size_t i = lengths.size(); i-- > 0;) {
    while (lengths[i] > 1 && used + (uint64_t{1} << (cap - lengths[i])) <= capacity) {
      used += uint64_t{1} << (cap - lengths[i]);
      --lengths[i];
    }
  }
}

// The canonical code of each symbol: shorter codes first, equal lengths in symbol order, so the
// lengths alone describe the code.
std::vector<uint32_t> canonical_codes(const std::vector<uint8_t>& lengths) {
  std::array<uint32_t, kMaxCodeLength + 1> per_length{};
  for (uint8_t length : lengths) ++per_length[length];
  per_length[0] = 0;
  std::array<uint32_t, kMaxCodeLength + 1> next{};
  uint32_t code = 0;
  for (int length = 1; length <= kMaxCodeLength; ++length) {
    code = (code + per_length[length - 1]) << 1;
    next[length] = code;
  }
  std::vector<uint32_t> codes(lengths.size(), 0);
  for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
    if (lengths[symbol] > 0) codes[symbol] = next[lengths[symbol]]++;
  }
  return codes;
}

[[noreturn]] void fail_no_code(size_t index) {
  fail("the payload holds no valid code for weight ", index);
}

}  // namespace

int code_length_limit(int bits) { return std::max(kFastLookupBits, bits); }

std::vector<uint8_t> huffman_code_lengths(const std::vector<uint64_t>& histogram, int limit) {
  CHECK(limit >= 1 && limit <= kMaxCodeLength) << "code length limit " << limit;
  std::vector<uint32_t> symbols;
  for (size_t symbol = 0; symbol < histogram.size(); ++symbol) {
    if (histogram[symbol] > 0) symbols.push_back(static_cast<uint32_t>(symbol));
  }
  CHECK(!symbols.empty() && symbols.size() <= (size_t{1} << limit))
      << symbols.size() << " symbols for codes of at most " << limit << " bits";
  std::vector<uint8_t> lengths(histogram.size(), 0);
  if (symbols.size() == 1) {  // a lone symbol still needs one bit to be a code
    lengths[symbols[0]] = 1;
    return lengths;
  }
  // Stable: equal counts keep symbol order, so the code is the same on every platform.
  std::stable_sort(symbols.begin(), symbols.end(),
                   [&](uint32_t a, uint32_t b) { return histogram[a] < histogram[b]; });
  std::vector<uint64_t> weights(symbols.size());
  for (size_t i = 0; i < symbols.size(); ++i) weights[i] = histogram[symbols[i]];
  std::vector<uint32_t> depths = huffman_depths(weights);
  limit_lengths(depths, limit);
  for (size_t i = 0; i < symbols.size(); ++i) lengths[symbols[i]] = static_cast<uint8_t>(depths[i]);
  return lengths;
}

void check_prefix_code(const std::vector<uint8_t>& lengths, int limit) {
  uint64_t used = 0;  // Kraft sum in units of 2^-kMaxCodeLength
  for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
    if (lengths[symbol] > limit) {
      fail("code length ", int{lengths[symbol]}, " of bin ", symbol, " exceeds the limit of ",
           limit, " bits");
    }
    if (lengths[symbol] > 0) used += uint64_t{1} << (kMaxCodeLength - lengths[symbol]);
  }
  if (used == 0) fail("the code lengths use no bin");
  if (used > (uint64_t{1} << kMaxCodeLength)) {
    fail("the code lengths are not a prefix code (Kraft sum ", used, "/",
         uint64_t{1} << kMaxCodeLength, " > 1)");
  }
}

HuffmanEncoder::HuffmanEncoder(const std::vector<uint8_t>& lengths) : table_(lengths.size()) {
  const std::vector<uint32_t> codes = canonical_codes(lengths);
  for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
    table_[symbol] = codes[symbol] << 8 | lengths[symbol];
  }
}

uint64_t HuffmanEncoder::encoded_bits(const std::vector<uint64_t>& histogram) const {
  CHECK_EQ(histogram.size(), table_.size());
  uint64_t bits = 0;
  for (size_t symbol = 0; symbol < histogram.size(); ++symbol) {
    bits += histogram[symbol] * (table_[symbol] & 0xff);
  }
  return bits;
}

void HuffmanEncoder::encode(const uint16_t* symbols, size_t count, uint8_t* out) const {
  BitWriter writer(out);
  const uint32_t* table = table_.data();
  for (size_t i = 0; i < count; ++i) {
    const uint32_t entry = table[symbols[i]];
    writer.put(entry >> 8, static_cast<int>(entry & 0xff));
  }
  writer.finish();
}

HuffmanDecoder::HuffmanDecoder(const std::vector<uint8_t>& lengths) {
  check_prefix_code(lengths, kMaxCodeLength);
  lookup_bits_ = *std::max_element(lengths.begin(), lengths.end());
  table_.assign(size_t{1} << lookup_bits_, 0);
  const std::vector<uint32_t> codes = canonical_codes(lengths);
  for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
    const int length = lengths[symbol];
    if (length == 0) continue;
    // Every lookup_bits_-bit prefix that starts with this code: a contiguous range, and inside
    // the table because the Kraft sum is at most 1.
    const size_t first = size_t{codes[symbol]} << (lookup_bits_ - length);
    const size_t span = size_t{1} << (lookup_bits_ - length);
    std::fill_n(table_.begin() + first, span, static_cast<uint32_t>(symbol << 8 | length));
  }
}

uint64_t HuffmanDecoder::decode(const uint8_t* payload, size_t size, const float* values,
                                float* out, size_t count) const {
  BitReader reader(payload, size);
  const uint32_t* table = table_.data();
  const int bits = lookup_bits_;
  size_t i = 0;
  auto decode_one = [&] {
    const uint32_t entry = table[reader.peek(bits)];
    const int length = static_cast<int>(entry & 0xff);
    if (length == 0) fail_no_code(i);
    reader.skip(length);
    out[i++] = values[entry >> 8];
  };
  // A refill leaves at least 56 bits: three codes of at most 16 bits each.
  static_assert(3 * kMaxCodeLength <= 56, "three codes per refill");
  while (i + 3 <= count) {
    reader.refill();
    decode_one();
    decode_one();
    decode_one();
  }
  while (i < count) {
    reader.refill();
    decode_one();
  }
  return reader.consumed();
}

}  // namespace caffe
