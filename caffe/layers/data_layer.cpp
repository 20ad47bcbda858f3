#include "caffe/layers/data_layer.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "caffe/core/layer_registry.hpp"
#include "caffe/data/db_lmdb.hpp"

namespace caffe {
namespace {

// BVLC nets may still carry the pre-transform_param fields in data_param; they mean the same
// as their transform_param namesakes (BVLC's upgrade moved them there).
TransformationParameter effective_transform_param(const LayerParameter& layer) {
  TransformationParameter transform = layer.transform_param();
  const DataParameter& data = layer.data_param();
  const auto conflict = [](const char* field) {
    fail("sets ", field, " in both data_param and transform_param; keep the transform_param one");
  };
  if (data.has_scale()) {
    if (transform.has_scale()) conflict("scale");
    transform.set_scale(data.scale());
  }
  if (data.has_mean_file()) {
    if (transform.has_mean_file()) conflict("mean_file");
    transform.set_mean_file(data.mean_file());
  }
  if (data.has_crop_size()) {
    if (transform.has_crop_size()) conflict("crop_size");
    transform.set_crop_size(data.crop_size());
  }
  if (data.has_mirror()) {
    if (transform.has_mirror()) conflict("mirror");
    transform.set_mirror(data.mirror());
  }
  return transform;
}

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
  batch_size_ = static_cast<int>(param.batch_size());
  check_backend(param);
  transformer_ =
      std::make_unique<DataTransformer>(effective_transform_param(layer_param_), phase());

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
    read_datum(reader, param.source(), {}, &first);
  }
  transformer_->SetDatumShape(first.channels(), first.height(), first.width());

  DatumPrefetcher::Options options;
  options.batch_size = param.batch_size();
  options.skip = param.rand_skip();
  options.depth = std::max<size_t>(1, param.prefetch());
  options.datum_shape = {first.channels(), first.height(), first.width()};
  prefetcher_ = std::make_unique<DatumPrefetcher>(std::move(environment), num_records_, options);
}

void DataLayer::Reshape(const BlobVec& /*bottom*/, const BlobVec& top) {
  std::vector<int> data_shape = transformer_->output_shape();
  data_shape.insert(data_shape.begin(), batch_size_);
  top[0]->Reshape(data_shape);
  if (top.size() > 1) top[1]->Reshape(std::vector<int>{batch_size_});
}

void DataLayer::Forward_cpu(const BlobVec& /*bottom*/, const BlobVec& top) {
  const DatumBatch batch = prefetcher_->Take(forward_count());
  // The transform runs here rather than in the prefetch thread because its random crop and
  // mirror are keyed by this pass's step_key(); it writes straight into the top, which is the
  // copy a prefetched float batch would need anyway.
  const uint64_t key = step_key();
  const int item_count = transformer_->output_count();
  float* data = top[0]->mutable_cpu_data();
  for (int k = 0; k < batch_size_; ++k) {
    transformer_->Transform(batch.datums[k], hash_combine(key, k),
                            data + static_cast<size_t>(k) * item_count);
  }
  if (top.size() > 1) {
    float* labels = top[1]->mutable_cpu_data();
    for (int k = 0; k < batch_size_; ++k) labels[k] = static_cast<float>(batch.datums[k].label());
  }
}

REGISTER_LAYER("Data", DataLayer);

}  // namespace caffe
