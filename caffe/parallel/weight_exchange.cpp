#include "caffe/parallel/weight_exchange.hpp"

#include <chrono>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "caffe/util/random.hpp"

namespace caffe {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr size_t kCountBytes = sizeof(uint32_t);
constexpr size_t kSizeBytes = sizeof(uint64_t);

// The framed message of one rank's packages.
std::vector<uint8_t> frame(const std::vector<std::vector<uint8_t>>& packages) {
  size_t total = kCountBytes + packages.size() * kSizeBytes;
  for (const auto& package : packages) total += package.size();
  std::vector<uint8_t> message(total);
  uint8_t* out = message.data();
  const auto count = static_cast<uint32_t>(packages.size());
  std::memcpy(out, &count, kCountBytes);
  out += kCountBytes;
  for (const auto& package : packages) {
    const uint64_t size = package.size();
    std::memcpy(out, &size, kSizeBytes);
    out += kSizeBytes;
  }
  for (const auto& package : packages) {
    if (!package.empty()) std::memcpy(out, package.data(), package.size());
    out += package.size();
  }
  return message;
}

struct PackageSpan {
  const uint8_t* data;
  size_t size;
};

// The packages of rank `sender`'s message, checked against the expected count and its size.
std::vector<PackageSpan> unframe(const uint8_t* message, size_t size, size_t expected, int sender) {
  const auto broken = [&](const auto&... what) {
    fail("the message from rank ", sender, " (", size, " bytes) ", what...);
  };
  if (size < kCountBytes) broken("is too short to hold its package count");
  uint32_t count = 0;
  std::memcpy(&count, message, kCountBytes);
  if (count != expected) broken("holds ", count, " packages where ", expected, " were expected");
  if (size - kCountBytes < expected * kSizeBytes) broken("is too short for its package sizes");
  const uint8_t* sizes = message + kCountBytes;
  size_t offset = kCountBytes + expected * kSizeBytes;
  std::vector<PackageSpan> spans;
  for (size_t a = 0; a < expected; ++a) {
    uint64_t package_size = 0;
    std::memcpy(&package_size, sizes + a * kSizeBytes, kSizeBytes);
    if (package_size > size - offset) broken("is shorter than its package sizes say");
    spans.push_back({message + offset, static_cast<size_t>(package_size)});
    offset += package_size;
  }
  if (offset != size) broken("has ", size - offset, " bytes after its last package");
  return spans;
}

double bits_per_value(const PackageHeader& header) {
  if (quantizes(header.kind)) return header.bits;
  return header.kind == CodecKind::kFp16 ? 16.0 : 32.0;
}

// Decodes rank `sender`'s package of `array` into out (count values), checking its shape.
PackageHeader decode_into(const PackageSpan& span, const ExchangedArray& array, int sender,
                          float* out) {
  const std::string source = "rank " + std::to_string(sender) + ", blob '" + array.name + "'";
  const ParsedPackage package = read_package(source, span.data, span.size);
  if (package.header.shape != array.shape) {
    fail("codec package from ", source, ": its shape differs from this rank's blob");
  }
  decode_payload(source, package, out);
  return package.header;
}

}  // namespace

void ExchangeStats::Add(const ExchangeStats& other) {
  exchanges += other.exchanges;
  params += other.params;
  bytes_sent += other.bytes_sent;
  quantized_bits += other.quantized_bits;
  payload_bits += other.payload_bits;
  encode_ms += other.encode_ms;
  decode_ms += other.decode_ms;
  communication_ms += other.communication_ms;
}

std::string ExchangeStats::describe() const {
  const double n = exchanges > 0 ? exchanges : 1;
  const double values = params > 0 ? static_cast<double>(params) : 1.0;
  std::ostringstream line;
  line << std::fixed << std::setprecision(3) << static_cast<uint64_t>(bytes_sent / n)
       << " bytes sent, " << quantized_bits / values << " bits/param quantized, "
       << payload_bits / values << " after Huffman (" << 8.0 * bytes_sent / values
       << " with headers), compression " << std::setprecision(2)
       << 32.0 * values / (8.0 * (bytes_sent > 0 ? bytes_sent : 1)) << "x, encode " << encode_ms / n
       << " ms, decode " << decode_ms / n << " ms, communication " << communication_ms / n << " ms";
  return line.str();
}

ExchangeStats average_over_ranks(const MpiContext& mpi, const std::vector<ExchangedArray>& arrays,
                                 CodecOptions codec, uint64_t round) {
  ExchangeStats stats;
  stats.exchanges = 1;
  const uint64_t rank = static_cast<uint64_t>(mpi.rank());

  Clock::time_point start = Clock::now();
  std::vector<std::vector<uint8_t>> packages;
  for (size_t a = 0; a < arrays.size(); ++a) {
    codec.seed = hash_combine(hash_combine(round, a), rank);
    packages.push_back(encode_weights(arrays[a].name, arrays[a].values, arrays[a].shape, codec));
    stats.params += arrays[a].count;
  }
  const std::vector<uint8_t> message = frame(packages);
  stats.bytes_sent = message.size();
  stats.encode_ms = ms_since(start);

  start = Clock::now();
  const Gathered gathered = mpi.AllGather(message.data(), message.size());
  stats.communication_ms = ms_since(start);

  start = Clock::now();
  std::vector<std::vector<PackageSpan>> messages;
  for (int r = 0; r < mpi.size(); ++r) {
    messages.push_back(unframe(gathered.data(r), gathered.size(r), arrays.size(), r));
  }
  std::vector<float> sum, decoded;
  const float ranks = static_cast<float>(mpi.size());
  for (size_t a = 0; a < arrays.size(); ++a) {
    const ExchangedArray& array = arrays[a];
    sum.resize(array.count);
    decoded.resize(array.count);
    for (int r = 0; r < mpi.size(); ++r) {
      const PackageHeader header =
          decode_into(messages[r][a], array, r, r == 0 ? sum.data() : decoded.data());
      if (r > 0) {
        for (size_t i = 0; i < array.count; ++i) sum[i] += decoded[i];
      }
      if (r == mpi.rank()) {
        stats.quantized_bits += bits_per_value(header) * static_cast<double>(header.count);
        stats.payload_bits += static_cast<double>(header.payload_bits);
      }
    }
    for (size_t i = 0; i < array.count; ++i) array.values[i] = sum[i] / ranks;
  }
  stats.decode_ms = ms_since(start);
  return stats;
}

}  // namespace caffe
