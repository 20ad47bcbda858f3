#include "caffe/layers/data_layer.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "caffe/core/layer_registry.hpp"
#include "caffe/data/data_shard.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/image_datum.hpp"
#include "caffe/data/lmdb_batch_reader.hpp"

namespace caffe {
namespace {

// LEVELDB is the schema's default backend, so nets that never set `backend` read an LMDB
// happily; only a source that is really something else gets the LEVELDB message.
void check_backend(const DataParameter& param) {
  if (param.source().empty()) fail("data_param.source is not set; give an LMDB directory");
  std::error_code error;
  if (param.backend() == DataParameter::LEVELDB && std::filesystem::exists(param.source(), error) &&
      !db::is_lmdb_directory(param.source())) {
    fail("data_param.source '", param.source(), "' is not an LMDB and the backend is LEVELDB",
         param.has_backend() ? "" : " (the default)",
         ": LEVELDB is not supported; convert to LMDB (backend: LMDB)");
  }
}

}  // namespace

void DataLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const DataParameter& param = layer_param_.data_param();
  if (param.batch_size() == 0) fail("data_param.batch_size must be positive");
  check_backend(param);
  const TransformationParameter transform =
      with_legacy_transform_fields(layer_param_.transform_param(), param, "data_param");
  ImageChannels channels = decoded_channels(transform);
  if (param.force_encoded_color()) {
    if (channels == ImageChannels::GRAY) {
      fail("data_param.force_encoded_color contradicts transform_param.force_gray");
    }
    channels = ImageChannels::COLOR;
  }

  std::shared_ptr<const db::LmdbEnvironment> environment;
  try {
    environment = db::LmdbEnvironment::OpenShared(param.source());
  } catch (const Error& error) {
    fail("data_param.source: ", error.what());
  }
  num_records_ = environment->num_records();
  if (num_records_ == 0) fail("LMDB '", param.source(), "' has no records");
  Datum first;
  {
    db::LmdbReader reader(*environment);
    reader.first();
    read_datum(reader, param.source(), channels, {}, &first);
  }

  LmdbBatchReader::Options options;
  options.batch_size = param.batch_size();
  options.skip = param.rand_skip();
  options.datum_shape = {first.channels(), first.height(), first.width()};
  options.channels = channels;
  options.shard = data_shard(phase());
  const int batch_size = static_cast<int>(param.batch_size());
  StartBatches(transform, batch_size, options.datum_shape,
               std::make_unique<LmdbBatchReader>(std::move(environment), num_records_, options),
               std::max<size_t>(1, param.prefetch()));
}

REGISTER_LAYER("Data", DataLayer);

}  // namespace caffe
