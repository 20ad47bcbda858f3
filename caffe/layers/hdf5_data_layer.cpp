// HDF5Data: batch assembly (epoch layout, shuffling, the two-file cache); the .h5 reading is in
// caffe/data/hdf5_reader.
#include "caffe/layers/hdf5_data_layer.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <sstream>

#include "caffe/core/layer_registry.hpp"
#include "caffe/data/hdf5_reader.hpp"
#include "caffe/util/permutation.hpp"

namespace caffe {
namespace {

constexpr size_t kCachedFiles = 2;
constexpr uint64_t kShuffleSalt = 0x4844463544617461ull;  // "HDF5Data"

std::string format_shape(const std::vector<uint64_t>& dims) {
  std::ostringstream text;
  text << '[';
  for (size_t i = 0; i < dims.size(); ++i) text << (i ? ", " : "") << dims[i];
  text << ']';
  return text.str();
}

// The stream every shuffle of `epoch` derives from.
uint64_t shuffle_key(uint64_t epoch) {
  return hash_combine(hash_combine(random_seed(), kShuffleSalt), epoch);
}

// A file's dataset is read into one blob (as BVLC Caffe reads it), so it must have the shape of
// one: every dimension and the product at most INT_MAX.  Checked before anything is allocated:
// a forged header must not make the layer ask for terabytes.
void check_fits_a_blob(const std::vector<uint64_t>& dims, const std::string& name,
                       const std::string& path) {
  uint64_t values = 1;
  for (uint64_t dim : dims) {
    const bool too_many = dim > INT_MAX || (dim != 0 && values > INT_MAX / dim);
    if (too_many) {
      fail("dataset '", name, "' in '", path, "' has shape ", format_shape(dims),
           ", more values than a blob holds (", INT_MAX,
           "); HDF5Data reads each file whole, so split the data into several files");
    }
    values *= dim;
  }
}

}  // namespace

void HDF5DataLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& top) {
  if (!hdf5_supported()) {
    fail("this ApproxCaffe was built without HDF5, so HDF5Data cannot read .h5 files; install "
         "HDF5 (Debian: libhdf5-dev) and re-run cmake");
  }
  const HDF5DataParameter& param = layer_param_.hdf5_data_param();
  if (param.source().empty()) {
    fail("hdf5_data_param.source is not set; give a text file listing .h5 files");
  }
  if (param.batch_size() == 0) fail("hdf5_data_param.batch_size must be positive");
  if (param.batch_size() > INT_MAX) {
    fail("hdf5_data_param.batch_size ", param.batch_size(), " is too large");
  }
  batch_size_ = static_cast<int>(param.batch_size());
  shuffle_ = param.shuffle();
  shard_ = data_shard(phase());
  if (layer_param_.top_size() < static_cast<int>(top.size())) {
    fail("every top needs a name: top i reads the dataset of the same name");
  }
  top_names_.assign(layer_param_.top().begin(), layer_param_.top().begin() + top.size());

  files_.clear();
  row_dims_.clear();
  total_rows_ = 0;
  for (const std::string& path : read_hdf5_source_list(param.source())) {
    files_.push_back({path, CheckFile(path)});
    total_rows_ += files_.back().rows;
  }
  row_sizes_.clear();
  for (size_t t = 0; t < top_names_.size(); ++t) {
    uint64_t top_count = static_cast<uint64_t>(batch_size_);
    for (uint64_t dim : row_dims_[t]) {
      if (dim != 0 && top_count > INT_MAX / dim) {
        fail("top '", top_names_[t], "' (batch_size x ", format_shape(row_dims_[t]),
             ") would hold more values than a blob can");
      }
      top_count *= dim;
    }
    row_sizes_.push_back(static_cast<int>(top_count / static_cast<uint64_t>(batch_size_)));
  }
  cache_.clear();
  layout_ = EpochLayout();
}

uint64_t HDF5DataLayer::CheckFile(const std::string& path) {
  const HDF5Reader reader(path);
  uint64_t rows = 0;
  for (size_t t = 0; t < top_names_.size(); ++t) {
    const std::vector<uint64_t> dims = reader.dims(top_names_[t]);
    const std::vector<uint64_t> row_dims(dims.begin() + 1, dims.end());
    if (t == 0) {
      rows = dims[0];
      if (rows == 0) fail("dataset '", top_names_[t], "' in '", path, "' has no rows");
    } else if (dims[0] != rows) {
      fail("datasets of '", path, "' have different row counts: '", top_names_[0], "' has ", rows,
           " rows but '", top_names_[t], "' has ", dims[0],
           "; all datasets of a file must share their first dimension");
    }
    check_fits_a_blob(dims, top_names_[t], path);
    if (row_dims_.size() == t) {
      row_dims_.push_back(row_dims);  // the first file sets the row shapes
    } else if (row_dims_[t] != row_dims) {
      fail("dataset '", top_names_[t], "' has rows of shape ", format_shape(row_dims), " in '",
           path, "' but ", format_shape(row_dims_[t]), " in '", files_.front().path,
           "'; every file must have the same row shape");
    }
  }
  return rows;
}

void HDF5DataLayer::Reshape(const BlobVec& /*bottom*/, const BlobVec& top) {
  for (size_t t = 0; t < top.size(); ++t) {
    std::vector<int> shape{batch_size_};
    shape.insert(shape.end(), row_dims_[t].begin(), row_dims_[t].end());
    top[t]->Reshape(shape);
  }
}

std::vector<std::string> HDF5DataLayer::file_paths() const {
  std::vector<std::string> paths;
  for (const SourceFile& file : files_) paths.push_back(file.path);
  return paths;
}

const HDF5DataLayer::EpochLayout& HDF5DataLayer::LayoutFor(uint64_t epoch) {
  // Without shuffling every epoch reads the files in list order, so one layout serves all.
  const uint64_t key = shuffle_ ? shuffle_key(epoch) : 0;
  if (!layout_.file_order.empty() && layout_.key == key) return layout_;
  layout_.key = key;
  layout_.file_order =
      shuffle_ ? random_permutation(files_.size(), key) : identity_order(files_.size());
  layout_.first_rows.clear();
  uint64_t first_row = 0;
  for (uint64_t file : layout_.file_order) {
    layout_.first_rows.push_back(first_row);
    first_row += files_[file].rows;
  }
  return layout_;
}

HDF5DataLayer::LoadedFile& HDF5DataLayer::Load(size_t file) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->file == file) {
      cache_.splice(cache_.begin(), cache_, it);
      return cache_.front();
    }
  }
  const SourceFile& source = files_[file];
  const HDF5Reader reader(source.path);
  LoadedFile loaded;
  loaded.file = file;
  for (size_t t = 0; t < top_names_.size(); ++t) {
    // The buffer is sized from the setup-time shape, so a file rewritten since then must not
    // be read into it.
    std::vector<uint64_t> expected{source.rows};
    expected.insert(expected.end(), row_dims_[t].begin(), row_dims_[t].end());
    const std::vector<uint64_t> dims = reader.dims(top_names_[t]);
    if (dims != expected) {
      fail("dataset '", top_names_[t], "' in '", source.path, "' is now ", format_shape(dims),
           " but was ", format_shape(expected), " when the layer was set up");
    }
    // (CheckFile made sure that the dataset fits a blob; the cap on host memory applies.)
    loaded.tops.push_back(std::make_unique<Blob>(std::vector<int>(dims.begin(), dims.end())));
    reader.read(top_names_[t], loaded.tops.back()->mutable_cpu_data());
  }
  cache_.push_front(std::move(loaded));
  if (cache_.size() > kCachedFiles) cache_.pop_back();
  return cache_.front();
}

void HDF5DataLayer::CopyRows(LoadedFile& source, uint64_t epoch, uint64_t first, uint64_t stride,
                             uint64_t count, int batch_row, const BlobVec& top) const {
  if (shuffle_) {
    const uint64_t key = hash_combine(shuffle_key(epoch), source.file + 1);
    if (source.row_order.empty() || source.row_order_key != key) {
      source.row_order = random_permutation(files_[source.file].rows, key);
      source.row_order_key = key;
    }
  }
  for (size_t t = 0; t < top.size(); ++t) {
    const size_t row_size = static_cast<size_t>(row_sizes_[t]);
    const float* rows = source.tops[t]->cpu_data();
    float* out = top[t]->mutable_cpu_data() + static_cast<size_t>(batch_row) * row_size;
    if (!shuffle_ && stride == 1) {
      std::memcpy(out, rows + first * row_size, count * row_size * sizeof(float));
      continue;
    }
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t row = first + i * stride;
      std::memcpy(out + i * row_size, rows + (shuffle_ ? source.row_order[row] : row) * row_size,
                  row_size * sizeof(float));
    }
  }
}

void HDF5DataLayer::Forward_cpu(const BlobVec& /*bottom*/, const BlobVec& top) {
  const uint64_t batch_start = forward_count() * static_cast<uint64_t>(batch_size_);
  const uint64_t stride = shard_.count;
  int batch_row = 0;
  while (batch_row < batch_size_) {
    const uint64_t global_row = shard_.position(batch_start + batch_row);
    const uint64_t epoch = global_row / total_rows_;
    const uint64_t epoch_row = global_row % total_rows_;
    const EpochLayout& layout = LayoutFor(epoch);
    const size_t slot = static_cast<size_t>(
        std::upper_bound(layout.first_rows.begin(), layout.first_rows.end(), epoch_row) -
        layout.first_rows.begin() - 1);
    const size_t file = layout.file_order[slot];
    const uint64_t first = epoch_row - layout.first_rows[slot];
    // The shard's next rows stay in this file (and epoch) up to the file's end.
    const uint64_t rows_here = (files_[file].rows - first + stride - 1) / stride;
    const uint64_t count = std::min<uint64_t>(batch_size_ - batch_row, rows_here);
    CopyRows(Load(file), epoch, first, stride, count, batch_row, top);
    batch_row += static_cast<int>(count);
  }
}

REGISTER_LAYER("HDF5Data", HDF5DataLayer);

}  // namespace caffe
