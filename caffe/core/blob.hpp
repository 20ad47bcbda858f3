// Blob: an N-d float tensor holding values (`data`) and gradients (`diff`), each in a
// SyncedMemory.  Reshaping to a smaller or equal size reuses the allocation.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/core/synced_memory.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

// Structure known to hold in a blob's data: viewing the data as rows of `width` units, only
// units j with j % period == offset may be non-zero, or with `blocks` only the units of the
// offset-th of `period` contiguous blocks, floor(offset·width/period) <= j <
// floor((offset+1)·width/period) (period 1 = no known structure).  Approximate
// dropout layers set it on their outputs; layers that map 0 to 0 element-wise (ReLU, Dropout,
// TanH) carry it to their tops; every other layer clears it (Layer::Forward does this).  The next
// fully connected layer uses it to skip the input columns that are known to be zero.
struct ColumnPattern {
  int period = 1;
  int offset = 0;
  int width = 0;
  bool blocks = false;
  bool dense() const { return period <= 1; }
};

class Blob {
 public:
  Blob() = default;
  explicit Blob(const std::vector<int>& shape) { Reshape(shape); }

  void Reshape(const std::vector<int>& shape);
  void Reshape(const BlobShape& shape);
  void ReshapeLike(const Blob& other) { Reshape(other.shape()); }

  const std::vector<int>& shape() const { return shape_; }
  // Size of one axis; negative indices count from the end.
  int shape(int axis) const { return shape_[CanonicalAxisIndex(axis)]; }
  int num_axes() const { return static_cast<int>(shape_.size()); }
  int count() const { return count_; }
  // Product of the dimensions in [start_axis, end_axis).
  int count(int start_axis, int end_axis) const;
  int count(int start_axis) const { return count(start_axis, num_axes()); }
  // Maps a possibly negative axis to [0, num_axes); errors when out of range.
  int CanonicalAxisIndex(int axis) const;
  std::string shape_string() const;

  // Legacy 4-d accessors (missing axes count as 1).
  int num() const { return legacy_dim(0); }
  int channels() const { return legacy_dim(1); }
  int height() const { return legacy_dim(2); }
  int width() const { return legacy_dim(3); }

  const float* cpu_data() const;
  const float* cpu_diff() const;
  const float* gpu_data() const;
  const float* gpu_diff() const;
  float* mutable_cpu_data();
  float* mutable_cpu_diff();
  float* mutable_gpu_data();
  float* mutable_gpu_diff();
  // The pointers on one device (the device idiom, caffe/util/device.hpp).
  const float* data_on(Mode on) const;
  const float* diff_on(Mode on) const;
  float* mutable_data_on(Mode on);
  float* mutable_diff_on(Mode on);

  const std::shared_ptr<SyncedMemory>& data() const { return data_; }
  const std::shared_ptr<SyncedMemory>& diff() const { return diff_; }

  // Make this blob use other's storage (shapes must have equal counts).
  void ShareData(const Blob& other);
  void ShareDiff(const Blob& other);

  // Loads from a BlobProto; with reshape=false the shapes must agree (error otherwise).
  void FromProto(const BlobProto& proto, bool reshape = true);
  void ToProto(BlobProto* proto, bool write_diff = false) const;
  // True when the proto's shape (or legacy dims) equals this blob's shape.
  bool ShapeEquals(const BlobProto& proto) const;

  const ColumnPattern& column_pattern() const { return column_pattern_; }
  void set_column_pattern(const ColumnPattern& pattern) { column_pattern_ = pattern; }

  // Σ|diff| as computed on the way by the layer that wrote the diff, which saves the layer that
  // reads it a pass over the gradient: GradSparsify requests it on the blob whose gradient it
  // prunes, and BatchNorm notes it when it writes that gradient (on the host).  The note holds
  // only while the diff storage is unchanged: the next mutable pointer to it (or a new storage)
  // makes it stale, and taking it clears it.  A write through a pointer or NumPy view obtained
  // before the note is not seen: only the layers of one backward pass use it.
  void request_diff_abs_sum() { diff_abs_sum_requested_ = true; }
  bool diff_abs_sum_requested() const { return diff_abs_sum_requested_; }
  void note_diff_abs_sum(double sum);
  std::optional<double> take_diff_abs_sum();

  // Σ|x| and Σx² of the data or the diff, computed where the current mode computes.
  float asum_data() const;
  float asum_diff() const;
  float sumsq_data() const;
  float sumsq_diff() const;

 private:
  int legacy_dim(int index) const;

  std::vector<int> shape_;
  int count_ = 0;
  int capacity_ = 0;
  std::shared_ptr<SyncedMemory> data_;
  std::shared_ptr<SyncedMemory> diff_;
  ColumnPattern column_pattern_;
  // The Σ|diff| note: its value and the diff storage and version it was taken at.
  struct DiffAbsSumNote {
    double sum = 0;
    const SyncedMemory* storage = nullptr;  // null: no note
    unsigned long long version = 0;
  };
  DiffAbsSumNote diff_abs_sum_note_;
  bool diff_abs_sum_requested_ = false;
};

// Shape of a BlobProto, honouring the legacy num/channels/height/width fields.
std::vector<int> proto_shape(const BlobProto& proto);
std::string shape_string(const std::vector<int>& shape);

}  // namespace caffe
