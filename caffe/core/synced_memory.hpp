// A byte buffer that lives on the host, the device, or both, and copies lazily between them:
// reading on one side copies only when the other side holds the newer version.
#pragma once

#include <cstddef>

namespace caffe {

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

 private:
  void to_cpu();
  void to_gpu();

  size_t size_ = 0;
  void* cpu_ptr_ = nullptr;
  void* gpu_ptr_ = nullptr;
  Head head_ = Head::UNINITIALIZED;
};

}  // namespace caffe
