// Batches of Datum records from an LMDB, in key order and wrapping around:
//   batch b = records (skip + shard.position(b * batch_size + k)) mod num_records,
//   k < batch_size (without sharding: skip + b * batch_size + k).
// Encoded records (JPEG / PNG) are decoded here, on the prefetch thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caffe/data/data_shard.hpp"
#include "caffe/data/datum_prefetcher.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/image_codec.hpp"

namespace caffe {

// Parses a record's bytes into `datum`, decodes it when it is encoded (to `channels`), and
// checks it with check_datum against `shape` (C, H, W), or against its own shape when `shape`
// is empty.  Errors start with `description` (which record of which database).
void parse_datum(std::string_view value, const std::string& description, ImageChannels channels,
                 const std::vector<int>& shape, Datum* datum);
// parse_datum of the reader's current record; errors name the record's key and the database.
void read_datum(const db::LmdbReader& reader, const std::string& db_path, ImageChannels channels,
                const std::vector<int>& shape, Datum* datum);

class LmdbBatchReader : public DatumBatchReader {
 public:
  struct Options {
    size_t batch_size = 1;
    uint64_t skip = 0;                               // records skipped before batch 0
    std::vector<int> datum_shape;                    // C, H, W every (decoded) record must have
    ImageChannels channels = ImageChannels::NATIVE;  // what encoded records decode to
    DataShard shard;                                 // which records of the stream this reads
  };

  // `num_records` is the count taken at setup; reading errors if the database changes.
  LmdbBatchReader(std::shared_ptr<const db::LmdbEnvironment> environment, size_t num_records,
                  Options options);

  void Read(uint64_t index, DatumBatch* batch) override;
  // The record at the reader's `local`-th stream position (batch b holds b * batch_size + k).
  uint64_t RecordAt(uint64_t local) const;

 private:
  void SeekTo(uint64_t record);
  void Advance();

  const std::shared_ptr<const db::LmdbEnvironment> environment_;
  const size_t num_records_;
  const Options options_;
  std::optional<db::LmdbReader> reader_;
  uint64_t position_ = 0;  // record index under the cursor (meaningful when reader_ is valid)
};

}  // namespace caffe
