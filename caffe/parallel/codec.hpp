// The weight codec for compressed weight exchange (Øland & Raj, "Reducing communication
// overhead in distributed learning by an order of magnitude (almost)"): per-blob dynamic
// quantization to N = clamp(round(H) + c, 1, ceiling) bits, where H is the entropy of a sampled
// M-bit quantization, then a canonical Huffman code of the bins, in a self-describing,
// checksummed package (package.hpp).  Also fixed:B (B bits, Huffman on), fp16 and none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "caffe/parallel/package.hpp"

namespace caffe {

struct CodecOptions {
  CodecKind kind = CodecKind::kDynamic;
  int fixed_bits = 8;             // B of fixed:B, 1..16
  int c = 6;                      // bits added to the entropy estimate
  int sample_bits = 4;            // M: bits of the quantization whose entropy is H, 1..16
  double sample_fraction = 0.03;  // F: fraction of the weights sampled for H, (0, 1]
  int ceiling = 10;               // most bits N may take, 1..16
  uint64_t seed = 0;              // which weights are sampled
};

// Sets options->kind (and fixed_bits) from "dynamic", "fixed:B", "fp16" or "none";
// caffe::Error naming the accepted modes otherwise.
void set_codec_mode(const std::string& mode, CodecOptions* options);
// caffe::Error "<context>: M = 0 must be in 1..16" when an option is out of range.
void check_codec_options(const CodecOptions& options, const std::string& context);
// The name of a package's mode, as set_codec_mode reads it ("fixed:8"); the fixed-mode package
// of a constant blob keeps no B and is "fixed".
std::string codec_mode_name(CodecKind kind, int bits);

// Encodes values[0, product of shape) into a package.  caffe::Error naming blob `name` for bad
// options or shape, a NaN or infinity, or (fp16) a weight beyond the half range.
std::vector<uint8_t> encode_weights(const std::string& name, const float* values,
                                    const std::vector<int>& shape, const CodecOptions& options);

// Reads and validates a package (checksum included) without decoding its payload; the result
// points into data, which must outlive it.  Errors read "codec package from <source>: ...".
ParsedPackage read_package(const std::string& source, const uint8_t* data, size_t size);
// Decodes a package read by read_package into out[0, header.count).
void decode_payload(const std::string& source, const ParsedPackage& package, float* out);

struct DecodedWeights {
  std::vector<int> shape;
  std::vector<float> values;
};
// read_package + decode_payload.
DecodedWeights decode_weights(const std::string& source, const uint8_t* data, size_t size);

}  // namespace caffe
