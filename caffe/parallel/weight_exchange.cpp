#include "caffe/parallel/weight_exchange.hpp"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "caffe/util/random.hpp"

namespace caffe {
namespace {

double cpu_clock_ms(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
}

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
  static double thread_cpu_ms() { return cpu_clock_ms(CLOCK_THREAD_CPUTIME_ID); }

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

// Decodes every rank's message, on a thread of its own, in the order the messages are handed to
// it, each into its rank's buffer (the arrays end to end).  A failure is kept per sender, so
// that the caller can report the same one on every rank whatever the order of arrival.
class DecodingThread {
 public:
  DecodingThread(const std::vector<ExchangedArray>& arrays, const Gathered& gathered, int me,
                 std::vector<std::vector<float>>* decoded)
      : arrays_(arrays),
        gathered_(gathered),
        me_(me),
        decoded_(*decoded),
        failures_(decoded->size()),
        thread_([this] { Run(); }) {
    pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
  }
  ~DecodingThread() { Finish(); }
  DecodingThread(const DecodingThread&) = delete;
  DecodingThread& operator=(const DecodingThread&) = delete;

  // Queues rank `sender`'s message, whose bytes are in place.
  void Decode(int sender) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(sender);
    }
    ready_.notify_one();
  }
  // The thread's CPU time so far, while it runs.
  double cpu_ms() const { return cpu_clock_ms(cpu_clock_); }
  // Decodes what is queued and ends the thread.
  void Finish() {
    if (!thread_.joinable()) return;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }
  // Rethrows the failure of the lowest sender, if any.
  void RethrowFailure() const {
    for (const std::exception_ptr& failure : failures_) {
      if (failure) std::rethrow_exception(failure);
    }
  }
  double total_cpu_ms() const { return total_cpu_ms_; }
  // This rank's bits (its packages' headers): quantized and payload, summed over the arrays.
  double quantized_bits() const { return quantized_bits_; }
  double payload_bits() const { return payload_bits_; }

 private:
  void Run() {
    for (;;) {
      int sender = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) break;
        sender = queue_.front();
        queue_.pop_front();
      }
      try {
        DecodeMessage(sender);
      } catch (...) {
        failures_[sender] = std::current_exception();
      }
    }
    total_cpu_ms_ = cpu_clock_ms(CLOCK_THREAD_CPUTIME_ID);
  }

  void DecodeMessage(int sender) {
    const std::vector<PackageSpan> packages =
        unframe(gathered_.data(sender), gathered_.size(sender), arrays_.size(), sender);
    float* out = decoded_[sender].data();
    for (size_t a = 0; a < arrays_.size(); ++a) {
      const PackageHeader header = decode_into(packages[a], arrays_[a], sender, out);
      out += arrays_[a].count;
      if (sender == me_) {
        quantized_bits_ += bits_per_value(header) * static_cast<double>(header.count);
        payload_bits_ += static_cast<double>(header.payload_bits);
      }
    }
  }

  const std::vector<ExchangedArray>& arrays_;
  const Gathered& gathered_;
  const int me_;
  std::vector<std::vector<float>>& decoded_;
  std::vector<std::exception_ptr> failures_;  // [sender]
  double quantized_bits_ = 0;
  double payload_bits_ = 0;
  double total_cpu_ms_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<int> queue_;
  bool closed_ = false;
  std::thread thread_;  // after the members Run uses: it starts once they exist
  clockid_t cpu_clock_{};
};

// Replaces each array by the float sum of the ranks' decoded values in rank order, over K.  In
// blocks that stay in cache, a rank at a time (so the additions vectorize; each value still
// sees the same additions in the same order).
void average_in_rank_order(const std::vector<ExchangedArray>& arrays,
                           const std::vector<std::vector<float>>& decoded) {
  constexpr size_t kBlock = 4096;
  const float ranks = static_cast<float>(decoded.size());
  size_t offset = 0;
  for (const ExchangedArray& array : arrays) {
    for (size_t start = 0; start < array.count; start += kBlock) {
      const size_t length = std::min(kBlock, array.count - start);
      float* mean = array.values + start;
      std::copy_n(decoded[0].data() + offset + start, length, mean);
      for (size_t r = 1; r < decoded.size(); ++r) {
        const float* values = decoded[r].data() + offset + start;
        for (size_t i = 0; i < length; ++i) mean[i] += values[i];
      }
      for (size_t i = 0; i < length; ++i) mean[i] /= ranks;
    }
    offset += array.count;
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
  overlapped_decode_cpu_ms += other.overlapped_decode_cpu_ms;
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
       << encode_cpu_ms / n << " ms, decode " << decode_cpu_ms / n
       << " ms after the communication and " << overlapped_decode_cpu_ms / n << " ms during it";
  return line.str();
}

ExchangeStats WeightExchange::Average(const std::vector<ExchangedArray>& arrays, CodecOptions codec,
                                      uint64_t round) {
  ExchangeStats stats;
  stats.exchanges = 1;
  const uint64_t rank = static_cast<uint64_t>(mpi_.rank());

  const Stopwatch encoding;
  std::vector<std::vector<uint8_t>> packages;
  for (size_t a = 0; a < arrays.size(); ++a) {
    codec.seed = hash_combine(hash_combine(round, a), rank);
    packages.push_back(encode_weights(arrays[a].name, arrays[a].values, arrays[a].shape, codec));
    stats.params += arrays[a].count;
  }
  if (!packages.empty()) corrupt_if_asked(mpi_.rank(), round, &packages[0]);
  const std::vector<uint8_t> message = frame(packages);
  stats.bytes_sent = message.size();
  stats.encode_ms = encoding.wall_ms();
  stats.encode_cpu_ms = encoding.cpu_ms();

  decoded_.resize(mpi_.size());
  for (std::vector<float>& values : decoded_) values.resize(stats.params);
  // The sizes first: they wait for the slowest rank, so that the ring times the transfers.
  const Stopwatch communicating;
  Gathered gathered;
  gathered.offsets = mpi_.GatherSizes(message.size());
  stats.wait_ms = communicating.wall_ms();
  DecodingThread decoding(arrays, gathered, mpi_.rank(), &decoded_);  // (ends before gathered)
  mpi_.RingAllGather(message.data(), message.size(), &gathered,
                     [&decoding](int sender) { decoding.Decode(sender); });
  stats.communication_ms = communicating.wall_ms();
  stats.overlapped_decode_cpu_ms = decoding.cpu_ms();

  const Stopwatch averaging;
  decoding.Finish();
  try {
    decoding.RethrowFailure();
  } catch (const AgreedError&) {
    throw;
  } catch (const Error& error) {
    throw AgreedError("the weight exchange of iteration " + std::to_string(round) + ": " +
                      error.what());
  }
  average_in_rank_order(arrays, decoded_);
  stats.quantized_bits = decoding.quantized_bits();
  stats.payload_bits = decoding.payload_bits();
  stats.decode_ms = averaging.wall_ms();
  stats.decode_cpu_ms =
      decoding.total_cpu_ms() - stats.overlapped_decode_cpu_ms + averaging.cpu_ms();
  return stats;
}

}  // namespace caffe
