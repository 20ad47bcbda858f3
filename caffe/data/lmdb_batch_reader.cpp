#include "caffe/data/lmdb_batch_reader.hpp"

#include <utility>

#include "caffe/core/common.hpp"
#include "caffe/data/data_transformer.hpp"
#include "caffe/data/image_datum.hpp"

namespace caffe {

void parse_datum(std::string_view value, const std::string& description, ImageChannels channels,
                 const std::vector<int>& shape, Datum* datum) {
  if (!datum->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    fail(description, " is not a Datum (", value.size(), " bytes that do not parse)");
  }
  decode_datum(datum, channels, description);
  try {
    if (shape.empty()) {
      check_datum(*datum, datum->channels(), datum->height(), datum->width());
    } else {
      check_datum(*datum, shape[0], shape[1], shape[2]);
    }
  } catch (const Error& error) {
    fail(description, ": ", error.what());
  }
}

void read_datum(const db::LmdbReader& reader, const std::string& db_path, ImageChannels channels,
                const std::vector<int>& shape, Datum* datum) {
  parse_datum(reader.value(),
              "record '" + std::string(reader.key()) + "' in LMDB '" + db_path + "'", channels,
              shape, datum);
}

LmdbBatchReader::LmdbBatchReader(std::shared_ptr<const db::LmdbEnvironment> environment,
                                 size_t num_records, Options options)
    : environment_(std::move(environment)),
      num_records_(num_records),
      options_(std::move(options)) {
  if (num_records_ == 0) fail("LMDB '", environment_->path(), "' has no records");
  if (options_.batch_size == 0) fail("batch_size must be positive");
  if (options_.datum_shape.size() != 3) fail("the datum shape must be channels, height, width");
}

uint64_t LmdbBatchReader::RecordAt(uint64_t local) const {
  // Reduced first so the product cannot overflow for any realistic stream position.
  const uint64_t records = num_records_;
  const DataShard& shard = options_.shard;
  const uint64_t position = (local % records) * (shard.count % records) + shard.rank % records;
  return (position % records + options_.skip % records) % records;
}

void LmdbBatchReader::Read(uint64_t index, DatumBatch* batch) {
  batch->datums.resize(options_.batch_size);
  const uint64_t first = index * options_.batch_size;
  for (size_t k = 0; k < batch->datums.size(); ++k) {
    SeekTo(RecordAt(first + k));
    read_datum(*reader_, environment_->path(), options_.channels, options_.datum_shape,
               &batch->datums[k]);
  }
}

void LmdbBatchReader::SeekTo(uint64_t record) {
  // LMDB cursors have no positional seek: walk forward from the cursor, wrapping around at the
  // end (which notices a database that grew), unless starting over from the first record is
  // shorter (a jump back to an earlier batch).
  if (!reader_) reader_.emplace(*environment_);
  const uint64_t ahead = reader_->valid() ? (record + num_records_ - position_) % num_records_ : 0;
  if (!reader_->valid() || record + 1 < ahead) {
    if (!reader_->first()) fail("LMDB '", environment_->path(), "' has become empty");
    position_ = 0;
  }
  while (position_ != record) Advance();
}

void LmdbBatchReader::Advance() {
  if (reader_->next()) {
    ++position_;
    if (position_ < num_records_) return;
  } else if (position_ + 1 == num_records_) {
    reader_->first();  // wrap around to the first record
    position_ = 0;
    return;
  }
  fail("LMDB '", environment_->path(), "' changed while being read: it had ", num_records_,
       " records at setup");
}

}  // namespace caffe
