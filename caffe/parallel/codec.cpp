// The weight codec's encode and decode paths for every mode (the algorithm is in codec.hpp, the
// package layout in package.hpp).
#include "caffe/parallel/codec.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "caffe/core/common.hpp"
#include "caffe/parallel/float16.hpp"
#include "caffe/parallel/huffman.hpp"
#include "caffe/parallel/quantize.hpp"

namespace caffe {
namespace {

// The none mode's payload is the floats' memory as it is: little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "packages store little-endian floats");

constexpr int kMaxBits = kMaxCodeLength;
constexpr const char* kModes = "dynamic, fixed:B (B = 1..16), fp16 or none";

// B of "fixed:B" with B in 1..16, or 0 when `mode` is not of that form.
int parse_fixed_bits(const std::string& mode) {
  const std::string prefix = "fixed:";
  if (mode.compare(0, prefix.size(), prefix) != 0) return 0;
  const std::string digits = mode.substr(prefix.size());
  const bool number =
      !digits.empty() && digits.size() <= 2 &&
      std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
  const int bits = number ? std::stoi(digits) : 0;
  return bits <= kMaxBits ? bits : 0;
}

uint64_t weight_count(const std::string& name, const std::vector<int>& shape) {
  if (shape.size() > static_cast<size_t>(kMaxPackageAxes)) {
    fail("codec: blob '", name, "' has ", shape.size(), " axes (at most ", kMaxPackageAxes, ")");
  }
  uint64_t count = 1;
  for (int axis : shape) {
    if (axis < 0) fail("codec: blob '", name, "' has a negative axis (", axis, ")");
    if (axis != 0 && count > kMaxPackageCount / static_cast<uint64_t>(axis)) {
      fail("codec: blob '", name, "' is too large to encode");
    }
    count *= static_cast<uint64_t>(axis);
  }
  return count;
}

std::vector<uint8_t> sealed(std::vector<uint8_t> package) {
  seal_package(package);
  return package;
}

// Quantizes the weights (range w_min < w_max) to header.bits bits and Huffman-codes the bins.
std::vector<uint8_t> encode_bins(const float* values, PackageHeader& header) {
  const size_t count = header.count;
  const Quantizer quantizer({header.w_min, header.w_max}, header.bits);
  std::vector<uint16_t> bins(count);
  std::vector<uint64_t> histogram(size_t{1} << header.bits, 0);
  quantizer.quantize(values, count, bins.data(), histogram.data());
  header.code_lengths = huffman_code_lengths(histogram, code_length_limit(header.bits));
  const HuffmanEncoder encoder(header.code_lengths);
  header.payload_bits = encoder.encoded_bits(histogram);
  std::vector<uint8_t> package = start_package(header);
  encoder.encode(bins.data(), count, package.data() + header_bytes(header));
  return sealed(std::move(package));
}

std::vector<uint8_t> encode_quantized(const std::string& name, const float* values,
                                      PackageHeader& header, const CodecOptions& options) {
  if (header.count == 0) return sealed(start_package(header));
  const ValueRange range = value_range(values, header.count, name);
  header.w_min = range.min;
  header.w_max = range.max;
  if (range.min == range.max) return sealed(start_package(header));  // N = 0: no payload
  const double entropy = estimate_entropy(values, header.count, range, options.sample_bits,
                                          options.sample_fraction, options.seed);
  header.entropy = static_cast<float>(entropy);
  header.bits = header.kind == CodecKind::kDynamic
                    ? dynamic_bits(entropy, options.c, options.ceiling)
                    : options.fixed_bits;
  return encode_bins(values, header);
}

std::vector<uint8_t> encode_raw(const std::string& name, const float* values,
                                PackageHeader& header) {
  const size_t count = header.count;
  check_finite(values, count, name);
  const bool half = header.kind == CodecKind::kFp16;
  header.payload_bits = header.count * (half ? 16 : 32);
  std::vector<uint8_t> package = start_package(header);
  uint8_t* payload = package.data() + header_bytes(header);
  if (half) {
    encode_halves(values, count, payload, name);
  } else if (count > 0) {  // (memcpy wants valid pointers even for 0 bytes)
    std::memcpy(payload, values, count * sizeof(float));
  }
  return sealed(std::move(package));
}

void decode_bins(const ParsedPackage& package, float* out) {
  const PackageHeader& header = package.header;
  if (header.bits == 0) {
    std::fill_n(out, header.count, header.w_min);
    return;
  }
  const std::vector<float> centres = bin_centres({header.w_min, header.w_max}, header.bits);
  const HuffmanDecoder decoder(header.code_lengths);
  const uint64_t used =
      decoder.decode(package.payload, package.payload_size, centres.data(), out, header.count);
  if (used != header.payload_bits) {
    fail("the payload decodes with ", used, " bits but the header says ", header.payload_bits);
  }
}

void decode_floats(const uint8_t* payload, size_t count, float* out) {
  std::memcpy(out, payload, count * sizeof(float));
  const size_t bad = first_not_finite(out, count);
  if (bad < count) fail("weight ", bad, " is ", out[bad], "; the encoder writes finite weights");
}

// Runs body, prefixing its caffe::Error with the package's source.
template <typename Body>
auto from_source(const std::string& source, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& error) {
    fail("codec package from ", source, ": ", error.what());
  }
}

}  // namespace

void check_codec_options(const CodecOptions& options, const std::string& context) {
  auto check = [&](bool ok, const char* what, auto value, const char* range) {
    if (!ok) fail(context, ": ", what, " = ", value, " must be in ", range);
  };
  check(options.sample_bits >= 1 && options.sample_bits <= kMaxBits, "M", options.sample_bits,
        "1..16");
  check(options.sample_fraction > 0.0 && options.sample_fraction <= 1.0, "F",
        options.sample_fraction, "(0, 1]");
  check(options.ceiling >= 1 && options.ceiling <= kMaxBits, "ceiling", options.ceiling, "1..16");
  check(options.fixed_bits >= 1 && options.fixed_bits <= kMaxBits, "fixed bits", options.fixed_bits,
        "1..16");
}

void set_codec_mode(const std::string& mode, CodecOptions* options) {
  const int fixed_bits = parse_fixed_bits(mode);
  if (mode == "dynamic") {
    options->kind = CodecKind::kDynamic;
  } else if (mode == "fp16") {
    options->kind = CodecKind::kFp16;
  } else if (mode == "none") {
    options->kind = CodecKind::kNone;
  } else if (fixed_bits > 0) {
    options->kind = CodecKind::kFixed;
    options->fixed_bits = fixed_bits;
  } else {
    fail("unknown codec mode '", mode, "': use ", kModes);
  }
}

std::string codec_mode_name(CodecKind kind, int bits) {
  switch (kind) {
    case CodecKind::kDynamic:
      return "dynamic";
    case CodecKind::kFixed:
      return bits > 0 ? "fixed:" + std::to_string(bits) : "fixed";
    case CodecKind::kFp16:
      return "fp16";
    case CodecKind::kNone:
      return "none";
  }
  return "unknown";
}

std::vector<uint8_t> encode_weights(const std::string& name, const float* values,
                                    const std::vector<int>& shape, const CodecOptions& options) {
  check_codec_options(options, "codec: blob '" + name + "'");
  PackageHeader header;
  header.kind = options.kind;
  header.shape = shape;
  header.count = weight_count(name, shape);
  if (quantizes(options.kind)) return encode_quantized(name, values, header, options);
  return encode_raw(name, values, header);
}

ParsedPackage read_package(const std::string& source, const uint8_t* data, size_t size) {
  return from_source(source, [&] { return parse_package(data, size); });
}

void decode_payload(const std::string& source, const ParsedPackage& package, float* out) {
  from_source(source, [&] {
    const PackageHeader& header = package.header;
    if (header.count == 0) return;
    if (quantizes(header.kind)) {
      decode_bins(package, out);
    } else if (header.kind == CodecKind::kFp16) {
      decode_halves(package.payload, header.count, out);
    } else {
      decode_floats(package.payload, header.count, out);
    }
  });
}

DecodedWeights decode_weights(const std::string& source, const uint8_t* data, size_t size) {
  const ParsedPackage package = read_package(source, data, size);
  DecodedWeights decoded{package.header.shape, std::vector<float>(package.header.count)};
  decode_payload(source, package, decoded.values.data());
  return decoded;
}

}  // namespace caffe
