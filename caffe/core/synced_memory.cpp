#include "caffe/core/synced_memory.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "caffe/core/common.hpp"
#include "caffe/core/cuda_context.hpp"

namespace caffe {
namespace {

constexpr size_t kHostAlignment = 64;  // a cache line; lets BLAS use aligned loads

std::atomic<size_t> host_limit{0};
std::atomic<size_t> host_in_use{0};

// What aligned_alloc is asked for: a positive multiple of the alignment.
size_t host_bytes(size_t size) {
  const size_t rounded = (size + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  return rounded > 0 ? rounded : kHostAlignment;
}

void* host_alloc(size_t size) {
  const size_t bytes = host_bytes(size);
  const size_t held = host_in_use.fetch_add(bytes) + bytes;
  const size_t limit = host_limit.load();
  if (limit > 0 && held > limit) {
    host_in_use -= bytes;
    fail("allocating ", size, " bytes would bring the host memory of blobs to ", held,
         " bytes, over the limit of ", limit, " bytes");
  }
  void* ptr = std::aligned_alloc(kHostAlignment, bytes);
  if (!ptr) {
    host_in_use -= bytes;
    fail("out of host memory allocating ", size, " bytes");
  }
  return ptr;
}

void host_free(void* ptr, size_t size) {
  if (!ptr) return;
  std::free(ptr);
  host_in_use -= host_bytes(size);
}

[[noreturn]] void no_gpu() { fail("GPU memory requested, but this build has no CUDA support"); }

}  // namespace

void set_host_memory_limit(size_t bytes) { host_limit = bytes; }
size_t host_memory_limit() { return host_limit; }
size_t host_memory_in_use() { return host_in_use; }

SyncedMemory::~SyncedMemory() {
  host_free(cpu_ptr_, size_);
#ifdef CAFFE_USE_CUDA
  if (gpu_ptr_) cudaFree(gpu_ptr_);
#endif
}

void SyncedMemory::to_cpu() {
  switch (head_) {
    case Head::UNINITIALIZED:
      cpu_ptr_ = host_alloc(size_);
      std::memset(cpu_ptr_, 0, size_);
      head_ = Head::AT_CPU;
      break;
    case Head::AT_GPU:
#ifdef CAFFE_USE_CUDA
      if (!cpu_ptr_) cpu_ptr_ = host_alloc(size_);
      CUDA_CALL(cudaMemcpy(cpu_ptr_, gpu_ptr_, size_, cudaMemcpyDeviceToHost));
      head_ = Head::SYNCED;
#else
      no_gpu();
#endif
      break;
    case Head::AT_CPU:
    case Head::SYNCED:
      break;
  }
}

void SyncedMemory::to_gpu() {
#ifdef CAFFE_USE_CUDA
  switch (head_) {
    case Head::UNINITIALIZED:
      CUDA_CALL(cudaMalloc(&gpu_ptr_, size_ > 0 ? size_ : 1));
      CUDA_CALL(cudaMemset(gpu_ptr_, 0, size_));
      head_ = Head::AT_GPU;
      break;
    case Head::AT_CPU:
      if (!gpu_ptr_) CUDA_CALL(cudaMalloc(&gpu_ptr_, size_ > 0 ? size_ : 1));
      CUDA_CALL(cudaMemcpy(gpu_ptr_, cpu_ptr_, size_, cudaMemcpyHostToDevice));
      head_ = Head::SYNCED;
      break;
    case Head::AT_GPU:
    case Head::SYNCED:
      break;
  }
#else
  no_gpu();
#endif
}

const void* SyncedMemory::cpu_data() {
  to_cpu();
  return cpu_ptr_;
}

void* SyncedMemory::mutable_cpu_data() {
  to_cpu();
  head_ = Head::AT_CPU;
  ++version_;
  return cpu_ptr_;
}

const void* SyncedMemory::gpu_data() {
  to_gpu();
  return gpu_ptr_;
}

void* SyncedMemory::mutable_gpu_data() {
  to_gpu();
  head_ = Head::AT_GPU;
  ++version_;
  return gpu_ptr_;
}

}  // namespace caffe
