// What the fuzz targets share (internal to fuzz/targets_*.cpp): the rejection rule, the memory
// and random-seed scopes, and a scratch folder for loaders that read files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "caffe/core/common.hpp"
#include "caffe/core/synced_memory.hpp"
#include "fuzz/targets.hpp"

namespace google {
namespace protobuf {
class Message;
}  // namespace protobuf
}  // namespace google

namespace caffe {
namespace fuzz {

// Runs `body`; a caffe::Error is the loader rejecting the bytes, which is the right answer for
// most of them.  Every other exception propagates: the harness reports it as a crash and the
// regression test as a failure.
template <typename Body>
void accept_or_reject(Body&& body) {
  try {
    body();
  } catch (const Error&) {
  }
}

// Caps the blob memory (kBlobMemoryCap above what is in use now) while alive.
class BlobMemoryCap {
 public:
  BlobMemoryCap() : previous_(host_memory_limit()) {
    set_host_memory_limit(host_memory_in_use() + kBlobMemoryCap);
  }
  ~BlobMemoryCap() { set_host_memory_limit(previous_); }
  BlobMemoryCap(const BlobMemoryCap&) = delete;
  BlobMemoryCap& operator=(const BlobMemoryCap&) = delete;

 private:
  size_t previous_;
};

// Restores the process's random seed (which solvers and restored states change) at scope end,
// so that the regression test leaves the tests after it unaffected.
class RandomSeedScope {
 public:
  RandomSeedScope() : seed_(random_seed()) {}
  ~RandomSeedScope() { set_random_seed(seed_); }
  RandomSeedScope(const RandomSeedScope&) = delete;
  RandomSeedScope& operator=(const RandomSeedScope&) = delete;

 private:
  uint64_t seed_;
};

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Small numbers drawn from the fuzzer's bytes, for targets that build a structured input from
// them; zeros once the bytes run out.
class ByteSource {
 public:
  ByteSource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return offset_ < size_ ? data_[offset_++] : 0; }
  bool empty() const { return offset_ >= size_; }
  // The bytes not drawn yet.
  std::string_view rest() const { return as_text(data_ + offset_, size_ - offset_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

// A folder of this process's own under the system temp folder, removed at exit.
const std::string& scratch_dir();
// Writes the bytes to scratch_dir()/name and returns that path.
std::string write_scratch(const std::string& name, std::string_view bytes);

// Clears every string field that names an outside file (data sources, mean files, dropout
// schedules, ...) anywhere in `message`: a net built from fuzzed text must read nothing from
// disk (each file format has a target of its own).
void clear_file_names(google::protobuf::Message* message);

}  // namespace fuzz
}  // namespace caffe
