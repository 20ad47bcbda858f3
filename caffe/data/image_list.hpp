// Image list files, one `path label` per line, as convert_imageset and the ImageData layer read
// them, and the batch reader that turns such a list into decoded Datum batches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caffe/data/data_shard.hpp"
#include "caffe/data/datum_prefetcher.hpp"
#include "caffe/data/image_datum.hpp"

namespace caffe {

struct ImageListEntry {
  std::string path;  // as written in the list (relative to the root folder)
  int label = 0;
  int line = 0;  // 1-based line number in the list file
};

// Reads a list: on each line a path, then spaces or tabs, then an integer label (the label is
// the last field, so paths may hold spaces).  Blank lines are skipped.  Any other line, or a
// list without entries, is an error naming the file and the line.
std::vector<ImageListEntry> read_image_list(const std::string& list_file);

// root_folder + path: plain concatenation, as in BVLC Caffe (give the root with its '/').
std::string image_path(const std::string& root_folder, const ImageListEntry& entry);

// Reads and decodes one listed image into a raw Datum with the entry's label.  Errors name the
// image file and the list line.
Datum read_listed_image(const ImageListEntry& entry, const std::string& root_folder,
                        const ImageShaping& shaping, const std::string& list_file);

// The order an image list is read in: an endless stream of epochs, where stream position p is
// entry order_e[p mod n] of epoch e = p div n, and order_e is the list order or, with
// `shuffle`, a permutation drawn from (key, e).
class ImageListOrder {
 public:
  ImageListOrder(uint64_t count, bool shuffle, uint64_t key);
  // The entry index at stream position `position`.
  uint64_t EntryAt(uint64_t position);

 private:
  uint64_t count_;
  bool shuffle_;
  uint64_t key_;
  uint64_t epoch_ = 0;           // the epoch whose order is cached
  std::vector<uint64_t> order_;  // (empty until a shuffled list needs one)
};

// Batches from an image list: batch b holds stream positions
// skip + shard.position(b * batch_size + k), k < batch_size, of the ImageListOrder.
class ImageListBatchReader : public DatumBatchReader {
 public:
  struct Options {
    std::string list_file;  // for messages
    std::string root_folder;
    ImageShaping shaping;
    size_t batch_size = 1;
    uint64_t skip = 0;
    bool shuffle = false;
    uint64_t shuffle_key = 0;
    std::vector<int> datum_shape;  // C, H, W every image must have after shaping
    DataShard shard;               // which positions of the stream this reads
  };

  ImageListBatchReader(std::vector<ImageListEntry> entries, Options options);

  void Read(uint64_t index, DatumBatch* batch) override;

 private:
  const std::vector<ImageListEntry> entries_;
  const Options options_;
  ImageListOrder order_;
};

}  // namespace caffe
