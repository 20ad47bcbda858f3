#include "caffe/parallel/weight_exchange.hpp"

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <utility>

#include "caffe/util/random.hpp"

namespace caffe {
namespace {

// Wall-clock and this thread's CPU milliseconds since it was started.
class Stopwatch {
 public:
  Stopwatch() : wall_(Clock::now()), cpu_(thread_cpu_ms()) {}
  double wall_ms() const {
    return std::chrono::duration<double, std::milli>(Clock::now() - wall_).count();
  }
  double cpu_ms() const { return thread_cpu_ms() - cpu_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double thread_cpu_ms() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
  }

  Clock::time_point wall_;
  double cpu_;
};

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

// CAFFE_TEST_CORRUPT_PACKAGE="R:I": rank R flips the byte in the middle of `package` (its first)
// in round I, as a damaged link would (the package's CRC-32 no longer matches).
void corrupt_if_asked(int rank, uint64_t round, std::vector<uint8_t>* package) {
  const char* setting = std::getenv("CAFFE_TEST_CORRUPT_PACKAGE");
  if (setting == nullptr) return;
  char* end = nullptr;
  const long target_rank = std::strtol(setting, &end, 10);
  const bool has_colon = end != setting && *end == ':';
  const char* iteration = has_colon ? end + 1 : end;
  const unsigned long long target_round = std::strtoull(iteration, &end, 10);
  if (!has_colon || end == iteration || *end != '\0') {
    fail("CAFFE_TEST_CORRUPT_PACKAGE='", setting, "': expected RANK:ITERATION");
  }
  if (target_rank != rank || target_round != round || package->empty()) return;
  (*package)[package->size() / 2] ^= 0xFF;
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

// Replaces each array by the mean of every rank's decoded package, adding this rank's bits.
void decode_average(const MpiContext& mpi, const std::vector<ExchangedArray>& arrays,
                    const Gathered& gathered, ExchangeStats* stats) {
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
        stats->quantized_bits += bits_per_value(header) * static_cast<double>(header.count);
        stats->payload_bits += static_cast<double>(header.payload_bits);
      }
    }
    for (size_t i = 0; i < array.count; ++i) array.values[i] = sum[i] / ranks;
  }
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
  wait_ms += other.wait_ms;
  encode_cpu_ms += other.encode_cpu_ms;
  decode_cpu_ms += other.decode_cpu_ms;
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
       << " ms, decode " << decode_ms / n << " ms, communication " << communication_ms / n
       << " ms (" << wait_ms / n << " waiting for the ranks), CPU time: encode "
       << encode_cpu_ms / n << " ms, decode " << decode_cpu_ms / n << " ms";
  return line.str();
}

ExchangeStats average_over_ranks(const MpiContext& mpi, const std::vector<ExchangedArray>& arrays,
                                 CodecOptions codec, uint64_t round) {
  ExchangeStats stats;
  stats.exchanges = 1;
  const uint64_t rank = static_cast<uint64_t>(mpi.rank());

  const Stopwatch encoding;
  std::vector<std::vector<uint8_t>> packages;
  for (size_t a = 0; a < arrays.size(); ++a) {
    codec.seed = hash_combine(hash_combine(round, a), rank);
    packages.push_back(encode_weights(arrays[a].name, arrays[a].values, arrays[a].shape, codec));
    stats.params += arrays[a].count;
  }
  if (!packages.empty()) corrupt_if_asked(mpi.rank(), round, &packages[0]);
  const std::vector<uint8_t> message = frame(packages);
  stats.bytes_sent = message.size();
  stats.encode_ms = encoding.wall_ms();
  stats.encode_cpu_ms = encoding.cpu_ms();

  // The sizes first: they wait for the slowest rank, so that the second step times the transfer.
  const Stopwatch communicating;
  std::vector<size_t> offsets = mpi.GatherSizes(message.size());
  stats.wait_ms = communicating.wall_ms();
  const Gathered gathered = mpi.AllGather(message.data(), message.size(), std::move(offsets));
  stats.communication_ms = communicating.wall_ms();

  const Stopwatch decoding;
  try {
    decode_average(mpi, arrays, gathered, &stats);
  } catch (const AgreedError&) {
    throw;
  } catch (const Error& error) {
    throw AgreedError("the weight exchange of iteration " + std::to_string(round) + ": " +
                      error.what());
  }
  stats.decode_ms = decoding.wall_ms();
  stats.decode_cpu_ms = decoding.cpu_ms();
  return stats;
}

}  // namespace caffe
