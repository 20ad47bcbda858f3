// A byte buffer that lives on the host, the device, or both, and copies lazily between them:
// reading on one side copies only when the other side holds the newer version.
#pragma once

#include <cstddef>

namespace caffe {

// A cap on the host memory that all SyncedMemory buffers hold at once (0, the default: none).
// An allocation past it is a caffe::Error naming both sizes, so a net whose shapes ask for more
// than the cap fails cleanly instead of allocating it (the fuzz harnesses set one; see
// docs/reliability.md).  Process-wide; the count includes buffers allocated before the call.
void set_host_memory_limit(size_t bytes);
size_t host_memory_limit();
// Bytes of host memory the SyncedMemory buffers hold now.
size_t host_memory_in_use();

class SyncedMemory {
 public:
  enum class Head { UNINITIALIZED, AT_CPU, AT_GPU, SYNCED };

  SyncedMemory() = default;
  explicit SyncedMemory(size_t size) : size_(size) {}
  ~SyncedMemory();
  SyncedMemory(const SyncedMemory&) = delete;
  SyncedMemory& operator=(const SyncedMemory&) = delete;

  const void* cpu_data();
  const void* gpu_data();
  void* mutable_cpu_data();
  void* mutable_gpu_data();
  size_t size() const { return size_; }
  Head head() const { return head_; }
  // How many times a mutable pointer was handed out: a fact recorded about the contents at one
  // version no longer holds at a later one.
  unsigned long long version() const { return version_; }

 private:
  void to_cpu();
  void to_gpu();

  size_t size_ = 0;
  void* cpu_ptr_ = nullptr;
  void* gpu_ptr_ = nullptr;
  Head head_ = Head::UNINITIALIZED;
  unsigned long long version_ = 0;
};

}  // namespace caffe
