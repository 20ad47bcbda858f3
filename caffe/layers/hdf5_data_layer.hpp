#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/data/data_shard.hpp"

namespace caffe {

// HDF5Data: top i holds batch_size rows of the float dataset named like top i, read from the
// .h5 files listed in hdf5_data_param.source.  With R rows in all (files in list order), batch
// b = forward_count() is global rows (b*batch_size + k) mod R, k < batch_size, so any batch can
// be recomputed without replaying the ones before it (exact resume).  In data-parallel training
// rank r of K reads stream rows r, r + K, ... instead (data_shard.hpp).
//
// A dataset of shape [S, d1, ...] gives tops of shape [batch_size, d1, ...]; sequence data laid
// out [S steps, N streams] thus yields T x N time-major blocks for truncated BPTT.  `shuffle`
// permutes the file order and the rows within each file afresh every epoch (a pure function of
// random_seed() and the epoch); sequence data must keep it false, or the steps scatter.
//
// Files are read whole, lazily: the layer keeps the two most recently used files in memory
// (a batch that crosses a file boundary needs both; PTB fits in one), each dataset in a blob, so
// a dataset may hold at most INT_MAX values (more is an error at setup).
class HDF5DataLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "HDF5Data"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  // The .h5 files in list order, resolved, and the rows they hold in all.
  std::vector<std::string> file_paths() const;
  uint64_t num_rows() const { return total_rows_; }

 protected:
  // The GPU path is the CPU one: the batch is assembled on the host and SyncedMemory copies it
  // to the device when the next layer reads it there.
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}

 private:
  struct SourceFile {
    std::string path;
    uint64_t rows = 0;
  };
  // One file's datasets, one blob per top, and (when shuffling) the row order of
  // the epoch that last read it.
  struct LoadedFile {
    size_t file = 0;
    std::vector<std::unique_ptr<Blob>> tops;
    uint64_t row_order_key = 0;
    std::vector<uint64_t> row_order;
  };
  // Which file each stretch of an epoch's rows comes from.
  struct EpochLayout {
    uint64_t key = 0;                  // the epoch's shuffle key (0 without shuffling)
    std::vector<uint64_t> file_order;  // files in the order the epoch reads them
    std::vector<uint64_t> first_rows;  // epoch row at which file_order[i] starts
  };

  // Checks one listed file against the tops (and the files before it); returns its row count.
  uint64_t CheckFile(const std::string& path);
  const EpochLayout& LayoutFor(uint64_t epoch);
  // The file's data, read on first use; only the two most recently used stay in memory.
  LoadedFile& Load(size_t file);
  // Copies `count` rows of `source`, its rows first, first + stride, ... (in epoch order), into
  // the tops from batch row `batch_row` on.
  void CopyRows(LoadedFile& source, uint64_t epoch, uint64_t first, uint64_t stride, uint64_t count,
                int batch_row, const BlobVec& top) const;

  int batch_size_ = 0;
  bool shuffle_ = false;
  DataShard shard_;
  std::vector<std::string> top_names_;
  std::vector<std::vector<uint64_t>> row_dims_;  // per top: the dataset's dims after the first
  std::vector<int> row_sizes_;                   // per top: floats per row
  std::vector<SourceFile> files_;
  uint64_t total_rows_ = 0;
  EpochLayout layout_;
  std::list<LoadedFile> cache_;  // most recently used first
};

}  // namespace caffe
