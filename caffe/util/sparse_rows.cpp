#include "caffe/util/sparse_rows.hpp"

#include <glog/logging.h>

#include <climits>

namespace caffe {
namespace {

// A buffer of at least `bytes`, reallocated (contents dropped) only when it is too small.
SyncedMemory& ensure_bytes(std::unique_ptr<SyncedMemory>& memory, size_t bytes) {
  if (!memory || memory->size() < bytes) memory = std::make_unique<SyncedMemory>(bytes);
  return *memory;
}

void* mutable_on(SyncedMemory& memory, Mode mode) {
  return mode == Mode::GPU ? memory.mutable_gpu_data() : memory.mutable_cpu_data();
}

const void* on(SyncedMemory& memory, Mode mode) {
  return mode == Mode::GPU ? memory.gpu_data() : memory.cpu_data();
}

// Rows per host thread chunk: enough elements that waking a helper thread pays.
long long min_rows_per_chunk(const RowLayout& layout) {
  return std::max(1LL, kElementwiseMinChunk / 4 / std::max(1, layout.length));
}

}  // namespace

long long SparseRows::Count(Mode mode, const RowLayout& layout, const float* data) {
  CHECK_LT(layout.elements(), static_cast<long long>(INT_MAX));
  layout_ = layout;
  counted_on_ = mode;
  const size_t offset_bytes = (static_cast<size_t>(layout.rows) + 1) * sizeof(int);
  int* offsets = static_cast<int*>(mutable_on(ensure_bytes(offsets_, offset_bytes), mode));
  for_each(mode, layout.rows, CountRowNonzeros{layout, data, offsets}, min_rows_per_chunk(layout));
#ifdef CAFFE_USE_CUDA
  if (mode == Mode::GPU) {
    nonzeros_ = scan_row_counts_gpu(offsets, layout.rows);
    return nonzeros_;
  }
#endif
  offsets[0] = 0;
  for (int r = 0; r < layout.rows; ++r) offsets[r + 1] += offsets[r];
  nonzeros_ = offsets[layout.rows];
  return nonzeros_;
}

void SparseRows::Fill(Mode mode, const float* data) {
  CHECK(mode == counted_on_) << "SparseRows::Fill on another device than its Count";
  const size_t entries = static_cast<size_t>(std::max(nonzeros_, 1LL));
  int* indices = static_cast<int*>(mutable_on(ensure_bytes(indices_, entries * sizeof(int)), mode));
  float* values =
      static_cast<float*>(mutable_on(ensure_bytes(values_, entries * sizeof(float)), mode));
  for_each(mode, layout_.rows, FillRowNonzeros{layout_, data, offsets(mode), indices, values},
           min_rows_per_chunk(layout_));
}

SparseRows::HostRows SparseRows::WriteOnHost(const RowLayout& layout, long long nonzeros) {
  CHECK_LT(layout.elements(), static_cast<long long>(INT_MAX));
  layout_ = layout;
  counted_on_ = Mode::CPU;
  nonzeros_ = nonzeros;
  const size_t entries = static_cast<size_t>(std::max(nonzeros, 1LL));
  const size_t offset_bytes = (static_cast<size_t>(layout.rows) + 1) * sizeof(int);
  return {static_cast<int*>(ensure_bytes(offsets_, offset_bytes).mutable_cpu_data()),
          static_cast<int*>(ensure_bytes(indices_, entries * sizeof(int)).mutable_cpu_data()),
          static_cast<float*>(ensure_bytes(values_, entries * sizeof(float)).mutable_cpu_data())};
}

const int* SparseRows::offsets(Mode mode) const {
  return static_cast<const int*>(on(*offsets_, mode));
}

const int* SparseRows::indices(Mode mode) const {
  return static_cast<const int*>(on(*indices_, mode));
}

const float* SparseRows::values(Mode mode) const {
  return static_cast<const float*>(on(*values_, mode));
}

}  // namespace caffe
