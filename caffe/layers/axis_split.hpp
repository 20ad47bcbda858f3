// Helpers for layers that work along one axis of a blob (Softmax, SoftmaxWithLoss, Accuracy,
// Slice, Concat): the [outer, axis, inner] view of a blob, class labels indexed by
// (outer, inner) position, and moving a piece of an axis on the host or the device.
#pragma once

#include <cmath>
#include <string>

#include "caffe/core/blob.hpp"
#include "caffe/core/common.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// A blob seen as [outer, axis_dim, inner] around one axis: element (o, c, i) lies at
// (o * axis_dim + c) * inner + i.  A "position" (o, i) is one vector along the axis; labels
// hold one value per position, at o * inner + i.
struct AxisSplit {
  int outer = 1;
  int axis_dim = 1;
  int inner = 1;

  CAFFE_HOST_DEVICE long long offset(long long o, long long c, long long i) const {
    return (o * axis_dim + c) * inner + i;
  }
  // Offset of element c of the vector at `position` (= o * inner + i).
  CAFFE_HOST_DEVICE long long offset_at(long long position, long long c) const {
    return offset(position / inner, c, position % inner);
  }
  int positions() const { return outer * inner; }
};

// `axis` may be negative (counts from the end); errors when it is out of range.
inline AxisSplit split_at_axis(const Blob& blob, int axis) {
  const int canonical = blob.CanonicalAxisIndex(axis);
  return AxisSplit{blob.count(0, canonical), blob.shape(canonical), blob.count(canonical + 1)};
}

// The axis a Slice/Concat parameter names: `axis`, or the legacy non-negative `*_dim` field
// (given both, that is an error).  Returns it in canonical (non-negative) form.
inline int axis_or_legacy_dim(const Blob& blob, bool has_axis, int axis, bool has_legacy_dim,
                              unsigned legacy_dim, const char* legacy_name) {
  if (has_legacy_dim) {
    if (has_axis) fail("give either axis or the legacy ", legacy_name, ", not both");
    return blob.CanonicalAxisIndex(static_cast<int>(legacy_dim));
  }
  return blob.CanonicalAxisIndex(axis);
}

// Which label value, if any, marks positions that do not count (loss_param / accuracy_param).
struct IgnoreLabel {
  bool active = false;
  int value = 0;
  CAFFE_HOST_DEVICE bool matches(int label) const { return active && label == value; }
};

// The labels (bottom 1) must hold one value per position of the scores.
inline void check_label_count(const Blob& labels, const AxisSplit& split) {
  if (labels.count() != split.positions()) {
    fail("the labels (bottom 1, shape ", labels.shape_string(), ") must have one value per ",
         "position of the scores: ", split.outer, " x ", split.inner, " = ", split.positions(),
         " values (the scores without their class axis)");
  }
}

// Checks that every label is an integer class id in [0, num_classes) or the ignore label, and
// returns how many are not ignored.  Labels are few (one per position), so this runs on the
// host in both modes and the device kernels may trust them.
inline int count_valid_labels(const Blob& labels, const AxisSplit& split, IgnoreLabel ignore) {
  const float* values = labels.cpu_data();
  int valid = 0;
  for (int index = 0; index < labels.count(); ++index) {
    const float value = values[index];
    const bool integral = value == std::floor(value) && std::fabs(value) < 2147483648.0f;
    if (integral && ignore.matches(static_cast<int>(value))) continue;
    if (!integral || value < 0.0f || value >= static_cast<float>(split.axis_dim)) {
      const std::string ignore_note =
          ignore.active ? " nor the ignore_label " + std::to_string(ignore.value) : "";
      fail("label ", value, " at index ", index, " of the labels is not a class id in [0, ",
           split.axis_dim, ")", ignore_note);
    }
    ++valid;
  }
  return valid;
}

// Slice and Concat move piece [offset, offset + length) of a joint blob's axis (split as
// `joint`) to or from a blob holding just that piece.
inline void copy_piece_out(Mode mode, const AxisSplit& joint, int offset, int length,
                           const float* joint_values, float* piece_values) {
  blas(mode).copy_rows(joint.outer, length * joint.inner, joint_values + offset * joint.inner,
                       joint.axis_dim * joint.inner, piece_values, length * joint.inner);
}
inline void copy_piece_in(Mode mode, const AxisSplit& joint, int offset, int length,
                          const float* piece_values, float* joint_values) {
  blas(mode).copy_rows(joint.outer, length * joint.inner, piece_values, length * joint.inner,
                       joint_values + offset * joint.inner, joint.axis_dim * joint.inner);
}

}  // namespace caffe
