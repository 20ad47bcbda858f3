#include "caffe/core/blob.hpp"

#include <climits>
#include <cmath>

#include "caffe/core/common.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

std::string shape_string(const std::vector<int>& shape) {
  std::ostringstream out;
  // The shapes printed include the ones refused for being too large: their product may not fit.
  long long total = 1;
  bool overflow = false;
  for (int dim : shape) {
    out << dim << " ";
    overflow = overflow || __builtin_mul_overflow(total, dim, &total);
  }
  out << "(";
  if (overflow) {
    out << "a product beyond 64 bits";
  } else {
    out << total;
  }
  out << ")";
  return out.str();
}

std::vector<int> proto_shape(const BlobProto& proto) {
  std::vector<int> shape;
  if (proto.has_shape()) {
    for (int64_t dim : proto.shape().dim()) {
      if (dim < 0 || dim > INT_MAX) fail("blob dimension ", dim, " is out of range");
      shape.push_back(static_cast<int>(dim));
    }
  } else if (proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width()) {
    shape = {proto.num(), proto.channels(), proto.height(), proto.width()};
  }
  return shape;
}

void Blob::Reshape(const std::vector<int>& shape) {
  long long total = 1;
  for (int dim : shape) {
    if (dim < 0) fail("negative blob dimension in shape ", caffe::shape_string(shape));
    total *= dim;
    if (total > INT_MAX) fail("blob of shape ", caffe::shape_string(shape), " is too large");
  }
  shape_ = shape;
  count_ = static_cast<int>(total);
  if (count_ > capacity_ || !data_) {
    capacity_ = count_;
    data_ = std::make_shared<SyncedMemory>(capacity_ * sizeof(float));
    diff_ = std::make_shared<SyncedMemory>(capacity_ * sizeof(float));
  }
}

void Blob::Reshape(const BlobShape& shape) {
  std::vector<int> dims;
  for (int64_t dim : shape.dim()) {
    if (dim < 0 || dim > INT_MAX) fail("blob dimension ", dim, " is out of range");
    dims.push_back(static_cast<int>(dim));
  }
  Reshape(dims);
}

int Blob::count(int start_axis, int end_axis) const {
  int total = 1;
  for (int axis = start_axis; axis < end_axis; ++axis) total *= shape_[axis];
  return total;
}

int Blob::CanonicalAxisIndex(int axis) const {
  const int axes = num_axes();
  if (axis < -axes || axis >= axes) {
    fail("axis ", axis, " is out of range for a blob of shape ", shape_string());
  }
  return axis < 0 ? axis + axes : axis;
}

std::string Blob::shape_string() const { return caffe::shape_string(shape_); }

int Blob::legacy_dim(int index) const {
  if (index < num_axes()) return shape_[index];
  return 1;
}

const float* Blob::cpu_data() const { return static_cast<const float*>(data_->cpu_data()); }
const float* Blob::cpu_diff() const { return static_cast<const float*>(diff_->cpu_data()); }
const float* Blob::gpu_data() const { return static_cast<const float*>(data_->gpu_data()); }
const float* Blob::gpu_diff() const { return static_cast<const float*>(diff_->gpu_data()); }
float* Blob::mutable_cpu_data() { return static_cast<float*>(data_->mutable_cpu_data()); }
float* Blob::mutable_cpu_diff() { return static_cast<float*>(diff_->mutable_cpu_data()); }
float* Blob::mutable_gpu_data() { return static_cast<float*>(data_->mutable_gpu_data()); }
float* Blob::mutable_gpu_diff() { return static_cast<float*>(diff_->mutable_gpu_data()); }

const float* Blob::data_on(Mode on) const { return on == Mode::GPU ? gpu_data() : cpu_data(); }
const float* Blob::diff_on(Mode on) const { return on == Mode::GPU ? gpu_diff() : cpu_diff(); }
float* Blob::mutable_data_on(Mode on) {
  return on == Mode::GPU ? mutable_gpu_data() : mutable_cpu_data();
}
float* Blob::mutable_diff_on(Mode on) {
  return on == Mode::GPU ? mutable_gpu_diff() : mutable_cpu_diff();
}

void Blob::ShareData(const Blob& other) {
  if (count_ != other.count_) {
    fail("cannot share data between blobs of shapes ", shape_string(), " and ", other.shape_string());
  }
  data_ = other.data_;
}

void Blob::ShareDiff(const Blob& other) {
  if (count_ != other.count_) {
    fail("cannot share diff between blobs of shapes ", shape_string(), " and ", other.shape_string());
  }
  diff_ = other.diff_;
}

void Blob::note_diff_abs_sum(double sum) {
  diff_abs_sum_note_ = {sum, diff_.get(), diff_ ? diff_->version() : 0};
}

std::optional<double> Blob::take_diff_abs_sum() {
  const DiffAbsSumNote note = diff_abs_sum_note_;
  diff_abs_sum_note_ = {};
  if (note.storage == nullptr || note.storage != diff_.get() || diff_->version() != note.version) {
    return std::nullopt;
  }
  return note.sum;
}

bool Blob::ShapeEquals(const BlobProto& proto) const {
  std::vector<int> theirs = proto_shape(proto);
  if (!proto.has_shape() && theirs.size() == 4) {
    // Legacy dims are 4-d with leading ones: compare after dropping them.
    std::vector<int> mine = shape_;
    while (mine.size() < 4) mine.insert(mine.begin(), 1);
    return mine == theirs;
  }
  return theirs == shape_;
}

void Blob::FromProto(const BlobProto& proto, bool reshape) {
  if (reshape) {
    Reshape(proto_shape(proto));
  } else if (!ShapeEquals(proto)) {
    fail("blob shape mismatch: expected ", shape_string(), ", file has ",
         caffe::shape_string(proto_shape(proto)));
  }
  const auto copy_values = [&](const auto& values, float* dest, const char* what) {
    if (values.size() != count_) {
      fail("blob ", what, " has ", values.size(), " values, shape ", shape_string(), " needs ", count_);
    }
    for (int i = 0; i < count_; ++i) dest[i] = static_cast<float>(values.Get(i));
  };
  if (proto.double_data_size() > 0) {
    copy_values(proto.double_data(), mutable_cpu_data(), "double_data");
  } else {
    copy_values(proto.data(), mutable_cpu_data(), "data");
  }
  if (proto.double_diff_size() > 0) {
    copy_values(proto.double_diff(), mutable_cpu_diff(), "double_diff");
  } else if (proto.diff_size() > 0) {
    copy_values(proto.diff(), mutable_cpu_diff(), "diff");
  }
}

void Blob::ToProto(BlobProto* proto, bool write_diff) const {
  proto->Clear();
  for (int dim : shape_) proto->mutable_shape()->add_dim(dim);
  const float* values = cpu_data();
  proto->mutable_data()->Add(values, values + count_);
  if (write_diff) {
    const float* grads = cpu_diff();
    proto->mutable_diff()->Add(grads, grads + count_);
  }
}

float Blob::asum_data() const {
  return count_ == 0 ? 0.0f : blas(mode()).asum(count_, data_on(mode()));
}
float Blob::asum_diff() const {
  return count_ == 0 ? 0.0f : blas(mode()).asum(count_, diff_on(mode()));
}
float Blob::sumsq_data() const {
  if (count_ == 0) return 0.0f;
  const float* values = data_on(mode());
  return blas(mode()).dot(count_, values, values);
}
float Blob::sumsq_diff() const {
  if (count_ == 0) return 0.0f;
  const float* grads = diff_on(mode());
  return blas(mode()).dot(count_, grads, grads);
}

}  // namespace caffe
