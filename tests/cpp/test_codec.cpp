// Tests of the weight codec (caffe/parallel): round trips within half a bin, Huffman cost
// against the entropy of the bins, header overhead, edge cases (constant, empty, NaN / Inf),
// fp16 and none, determinism, and damaged or forged packages that must all be clear errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "caffe/parallel/codec.hpp"
#include "caffe/parallel/float16.hpp"
#include "caffe/parallel/huffman.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::error_of;
using Bytes = std::vector<uint8_t>;

std::vector<float> gaussian(int count, uint64_t seed, float std = 0.05f) {
  std::vector<float> values(count);
  test::fill_gaussian(values.data(), count, seed, 0.0f, std);
  return values;
}

CodecOptions mode(const std::string& name) {
  CodecOptions options;
  set_codec_mode(name, &options);
  return options;
}

Bytes encode(const std::vector<float>& values, const CodecOptions& options,
             std::vector<int> shape = {}) {
  if (shape.empty()) shape = {static_cast<int>(values.size())};
  return encode_weights("w", values.data(), shape, options);
}

PackageHeader header_of(const Bytes& package) {
  return read_package("test", package.data(), package.size()).header;
}

DecodedWeights decode(const Bytes& package) {
  return decode_weights("test", package.data(), package.size());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The bins of the specification: q = min(floor(2^N (w - w_min) / (w_max - w_min)), 2^N - 1).
std::vector<uint64_t> spec_histogram(const std::vector<float>& values, const PackageHeader& h) {
  std::vector<uint64_t> histogram(size_t{1} << h.bits, 0);
  const double range = static_cast<double>(h.w_max) - h.w_min;
  for (float w : values) {
    const double q =
        std::floor(std::ldexp(1.0, h.bits) * (w - static_cast<double>(h.w_min)) / range);
    ++histogram[std::min<size_t>(static_cast<size_t>(q), histogram.size() - 1)];
  }
  return histogram;
}

double entropy(const std::vector<uint64_t>& histogram) {
  double total = 0, h = 0;
  for (uint64_t n : histogram) total += static_cast<double>(n);
  for (uint64_t n : histogram) {
    if (n > 0) h -= n / total * std::log2(n / total);
  }
  return h;
}

void expect_within_half_bin(const std::vector<float>& values, const Bytes& package) {
  const PackageHeader h = header_of(package);
  const DecodedWeights decoded = decode(package);
  ASSERT_EQ(decoded.values.size(), values.size());
  const double half_bin = (static_cast<double>(h.w_max) - h.w_min) / std::ldexp(2.0, h.bits);
  for (size_t i = 0; i < values.size(); ++i) {
    const double error = std::fabs(static_cast<double>(decoded.values[i]) - values[i]);
    ASSERT_LE(error, half_bin * (1 + 1e-6) + 1e-7 * std::fabs(values[i])) << "weight " << i;
  }
}

TEST(CodecTest, DynamicRoundTripIsWithinHalfABin) {
  const std::vector<float> values = gaussian(6 * 7 * 1000, 1);
  const Bytes package = encode(values, mode("dynamic"), {6, 7, 1000});
  EXPECT_EQ(decode(package).shape, (std::vector<int>{6, 7, 1000}));
  EXPECT_GE(header_of(package).bits, 1);
  expect_within_half_bin(values, package);
}

TEST(CodecTest, FixedRoundTripIsWithinHalfABin) {
  const std::vector<float> values = gaussian(20000, 2);
  for (int bits : {1, 2, 5, 8, 12, 13, 16}) {
    SCOPED_TRACE(bits);
    const Bytes package = encode(values, mode("fixed:" + std::to_string(bits)));
    EXPECT_EQ(header_of(package).bits, bits);
    expect_within_half_bin(values, package);
  }
}

TEST(CodecTest, HuffmanCostIsWithinOneBitOfTheBinEntropy) {
  std::mt19937 engine(3);
  std::exponential_distribution<float> laplace_half(30.0f);
  std::vector<float> skewed(50000);
  for (float& w : skewed) w = (engine() & 1 ? 1 : -1) * laplace_half(engine);
  for (const auto& values : {gaussian(50000, 4), skewed}) {
    for (const char* name : {"dynamic", "fixed:4", "fixed:8", "fixed:11"}) {
      SCOPED_TRACE(name);
      const PackageHeader h = header_of(encode(values, mode(name)));
      const double bin_entropy = entropy(spec_histogram(values, h));
      const double bits_per_weight = static_cast<double>(h.payload_bits) / values.size();
      EXPECT_GE(bits_per_weight, bin_entropy - 1e-3);  // (bins on an edge may differ)
      EXPECT_LE(bits_per_weight, bin_entropy + 1.0);
    }
  }
}

TEST(CodecTest, HeaderCostsAtMostAFifthOfABitPerWeight) {
  const std::vector<float> values = gaussian(200000, 5);
  for (const char* name : {"dynamic", "fixed:10"}) {
    const Bytes package = encode(values, mode(name), {400, 500});
    const double overhead = 8.0 * package.size() - header_of(package).payload_bits;
    EXPECT_LE(overhead / values.size(), 0.2) << name;
  }
}

TEST(CodecTest, DynamicBitsAreRoundedEntropyPlusCClamped) {
  std::vector<float> uniform(100000);
  std::mt19937 engine(6);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& w : uniform) w = dist(engine);
  CodecOptions options = mode("dynamic");
  const PackageHeader h = header_of(encode(uniform, options));
  EXPECT_NEAR(h.entropy, 4.0, 0.05);  // 16 equally likely 4-bit bins
  EXPECT_EQ(h.bits, 10);              // round(4) + 6
  options.c = 2;
  EXPECT_EQ(header_of(encode(uniform, options)).bits, 6);
  options.c = 9;  // 13, clamped to the ceiling
  EXPECT_EQ(header_of(encode(uniform, options)).bits, 10);
  options.c = -8;  // clamped to 1
  EXPECT_EQ(header_of(encode(uniform, options)).bits, 1);
}

TEST(CodecTest, ConstantBlobHasNoPayloadAndDecodesToItsValue) {
  for (const char* name : {"dynamic", "fixed:8"}) {
    const Bytes package = encode(std::vector<float>(1000, -0.25f), mode(name), {10, 100});
    const PackageHeader h = header_of(package);
    EXPECT_EQ(h.bits, 0);
    EXPECT_EQ(h.payload_bits, 0u);
    const DecodedWeights decoded = decode(package);
    EXPECT_EQ(decoded.shape, (std::vector<int>{10, 100}));
    EXPECT_EQ(decoded.values, std::vector<float>(1000, -0.25f));
  }
}

TEST(CodecTest, EmptyBlobRoundTripsInEveryMode) {
  for (const char* name : {"dynamic", "fixed:3", "fp16", "none"}) {
    const Bytes package = encode({}, mode(name), {0, 5});
    const DecodedWeights decoded = decode(package);
    EXPECT_EQ(decoded.shape, (std::vector<int>{0, 5})) << name;
    EXPECT_TRUE(decoded.values.empty()) << name;
  }
}

TEST(CodecTest, NanOrInfinityIsAnErrorNamingTheBlob) {
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    std::vector<float> values = gaussian(100, 7);
    values[42] = bad;
    for (const char* name : {"dynamic", "fixed:8", "fp16", "none"}) {
      const std::string message =
          error_of([&] { encode_weights("ip1.weight", values.data(), {100}, mode(name)); });
      EXPECT_TRUE(contains(message, "'ip1.weight'") && contains(message, "index 42")) << message;
    }
  }
}

TEST(CodecTest, ModesAndOptionsAreChecked) {
  EXPECT_EQ(mode("fixed:12").fixed_bits, 12);
  EXPECT_EQ(codec_mode_name(CodecKind::kFixed, 12), "fixed:12");
  CodecOptions options;
  for (const char* bad : {"Dynamic", "fixed", "fixed:", "fixed:0", "fixed:17", "fixed:8x", ""}) {
    EXPECT_TRUE(contains(error_of([&] { set_codec_mode(bad, &options); }), "fixed:B")) << bad;
  }
  const std::vector<float> values = gaussian(10, 8);
  for (auto spoil : {+[](CodecOptions& o) { o.sample_bits = 0; },
                     +[](CodecOptions& o) { o.sample_fraction = 0.0; },
                     +[](CodecOptions& o) { o.sample_fraction = 1.5; },
                     +[](CodecOptions& o) { o.ceiling = 17; }}) {
    CodecOptions spoiled;
    spoil(spoiled);
    EXPECT_TRUE(contains(error_of([&] { encode(values, spoiled); }), "must be in"));
  }
}

TEST(CodecTest, Fp16RoundsToNearestEvenAndRejectsOverflow) {
  std::vector<float> values = {0.0f,     -0.0f,           1.0f,
                               65504.0f, -2.0f / 3.0f,    1e-7f,
                               6e-8f,    1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f,
                               0x1p-25f};
  const DecodedWeights decoded = decode(encode(values, mode("fp16")));
  const std::vector<float> expected = {
      0.0f,         -0.0f,    1.0f, 65504.0f,       -0.66650390625f,
      0x1p-24f * 2, 0x1p-24f, 1.0f, 1.0f + 0x1p-9f, 0.0f};
  EXPECT_EQ(decoded.values, expected);
  EXPECT_TRUE(std::signbit(decoded.values[1]));
  EXPECT_TRUE(contains(error_of([&] { encode({70000.0f}, mode("fp16")); }), "fp16 range"));
}

TEST(CodecTest, EveryFiniteHalfSurvivesTheFloatRoundTrip) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7c00) == 0x7c00) continue;  // infinities and NaNs
    ASSERT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(bits))), bits) << bits;
  }
}

TEST(CodecTest, NoneRoundTripIsBitExact) {
  std::vector<float> values = gaussian(1000, 9);
  values[0] = -0.0f;
  values[1] = 1e-40f;  // subnormal
  const DecodedWeights decoded = decode(encode(values, mode("none")));
  ASSERT_EQ(decoded.values.size(), values.size());
  EXPECT_EQ(std::memcmp(decoded.values.data(), values.data(), values.size() * 4), 0);
}

TEST(CodecTest, SameSeedGivesSameBytes) {
  const std::vector<float> values = gaussian(30000, 10);
  CodecOptions options;
  options.seed = 77;
  EXPECT_EQ(encode(values, options), encode(values, options));
}

TEST(CodecHuffmanTest, LengthsStayWithinTheLimitAndFormAPrefixCode) {
  // Fibonacci counts give the deepest Huffman tree: 40 symbols would need 39 bits.
  std::vector<uint64_t> histogram(64, 0);
  uint64_t a = 1, b = 1;
  for (size_t s = 0; s < 40; ++s, b += a, a = b - a) histogram[s] = a;
  const std::vector<uint8_t> lengths = huffman_code_lengths(histogram, 12);
  for (size_t s = 0; s < histogram.size(); ++s) {
    EXPECT_EQ(lengths[s] > 0, histogram[s] > 0) << s;
    EXPECT_LE(lengths[s], 12) << s;
  }
  check_prefix_code(lengths, 12);
  // A full alphabet fits only with every code at the limit.
  const std::vector<uint8_t> flat = huffman_code_lengths(std::vector<uint64_t>(4096, 1), 12);
  EXPECT_EQ(flat, std::vector<uint8_t>(4096, 12));
}

// ---- damaged and forged packages ----

const std::string kPrefix = "codec package from test: ";

void expect_rejected(const Bytes& package, const std::string& what) {
  const std::string message = error_of([&] { decode(package); });
  EXPECT_EQ(message.rfind(kPrefix, 0), 0u) << message;
  EXPECT_TRUE(contains(message, what)) << message;
}

std::vector<Bytes> small_packages() {
  const std::vector<float> values = gaussian(24, 11);
  return {encode(values, mode("dynamic"), {4, 6}), encode(values, mode("fixed:3")),
          encode(values, mode("fp16")), encode(values, mode("none")),
          encode(std::vector<float>(5, 2.0f), mode("dynamic"))};
}

TEST(CodecDamageTest, EveryTruncationIsAnError) {
  for (const Bytes& package : small_packages()) {
    for (size_t size = 0; size < package.size(); ++size) {
      expect_rejected(Bytes(package.begin(), package.begin() + size), "");
    }
    Bytes longer = package;
    longer.push_back(0);
    expect_rejected(longer, "trailing bytes");
  }
}

TEST(CodecDamageTest, EverySingleBitFlipIsAnError) {
  for (const Bytes& package : small_packages()) {
    for (size_t bit = 0; bit < 8 * package.size(); ++bit) {
      Bytes damaged = package;
      damaged[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
      expect_rejected(damaged, "");
    }
  }
}

TEST(CodecDamageTest, MagicVersionAndChecksumAreChecked) {
  const Bytes package = small_packages()[0];
  Bytes damaged = package;
  damaged[0] = 'X';
  expect_rejected(damaged, "magic");
  damaged = package;
  damaged[4] = 2;
  expect_rejected(damaged, "unsupported version 2");
  damaged = package;
  damaged.back() ^= 0x55;
  expect_rejected(damaged, "checksum mismatch");
}

// A package with a valid checksum around a header the encoder would never write.
Bytes forged(const PackageHeader& header, const Bytes& payload) {
  Bytes package = start_package(header);
  std::copy(payload.begin(), payload.end(), package.begin() + header_bytes(header));
  seal_package(package);
  return package;
}

PackageHeader two_bit_header(std::vector<uint8_t> lengths, uint64_t payload_bits) {
  PackageHeader header;
  header.bits = 2;
  header.shape = {4};
  header.count = 4;
  header.w_min = -1.0f;
  header.w_max = 1.0f;
  header.code_lengths = std::move(lengths);
  header.payload_bits = payload_bits;
  return header;
}

TEST(CodecDamageTest, ForgedHeadersWithAValidChecksumAreErrors) {
  expect_rejected(forged(two_bit_header({1, 1, 1, 1}, 4), {0}), "not a prefix code");
  expect_rejected(forged(two_bit_header({13, 1, 2, 13}, 8), {0}), "exceeds the limit");
  expect_rejected(forged(two_bit_header({0, 1, 2, 2}, 8), {0}), "omits the bin");
  expect_rejected(forged(two_bit_header({1, 2, 3, 3}, 2), {0}), "cannot hold");
  // Codes 00 and 01 only: the payload's 10 starts no code.
  expect_rejected(forged(two_bit_header({2, 0, 0, 2}, 8), {0x80}), "no valid code");
  // Codes 0, 10, 11: four zero bits decode the 4 weights with 4 bits, not the 6 declared.
  expect_rejected(forged(two_bit_header({1, 2, 0, 2}, 6), {0}), "decodes with 4 bits");
  PackageHeader header = two_bit_header({2, 2, 2, 2}, 8);
  header.w_min = std::nanf("");
  expect_rejected(forged(header, {0}), "not a valid number");
  header = two_bit_header({2, 2, 2, 2}, 8);
  header.count = 5;
  expect_rejected(forged(header, {0}), "shape holds 4 weights");
  header = two_bit_header({}, 0);
  header.bits = 0;
  header.w_max = 3.0f;
  expect_rejected(forged(header, {}), "constant blob");
}

// A constant blob's package has no payload, so only its count bounds what decoding allocates:
// a count beyond a blob's is refused before anything is (fuzz/regressions/package/).
TEST(CodecDamageTest, ConstantPackageOfMoreWeightsThanABlobIsAnError) {
  PackageHeader header;
  header.bits = 0;
  header.shape = {1 << 20, 1 << 20};
  header.count = uint64_t{1} << 40;
  header.w_min = header.w_max = 0.25f;
  expect_rejected(forged(header, {}), "weights is too many");
}

TEST(CodecDamageTest, ForgedRawPayloadsAreErrors) {
  PackageHeader header;
  header.kind = CodecKind::kFp16;
  header.shape = {1};
  header.count = 1;
  header.payload_bits = 16;
  expect_rejected(forged(header, {0x00, 0x7c}), "infinity or NaN");
  header.kind = CodecKind::kNone;
  header.payload_bits = 32;
  expect_rejected(forged(header, {0x00, 0x00, 0xc0, 0x7f}), "finite weights");
  header.bits = 3;
  expect_rejected(forged(header, {0, 0, 0, 0}), "out of range");
}

}  // namespace
}  // namespace caffe
