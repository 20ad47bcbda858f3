#include "caffe/data/image_mean.hpp"

#include "caffe/core/common.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/lmdb_batch_reader.hpp"

namespace caffe {
namespace {

void accumulate(const Datum& datum, std::vector<double>* sums) {
  if (!datum.data().empty()) {
    const std::string& bytes = datum.data();
    for (size_t i = 0; i < sums->size(); ++i) (*sums)[i] += static_cast<uint8_t>(bytes[i]);
  } else {
    for (size_t i = 0; i < sums->size(); ++i) (*sums)[i] += datum.float_data(static_cast<int>(i));
  }
}

}  // namespace

ImageMean compute_image_mean(const std::string& db_path) {
  const db::LmdbEnvironment environment(db_path, db::LmdbEnvironment::Access::READ_ONLY);
  db::LmdbReader reader(environment);
  if (!reader.first()) fail("LMDB '", db_path, "' has no records");
  Datum datum;
  read_datum(reader, db_path, ImageChannels::NATIVE, {}, &datum);
  const std::vector<int> shape{datum.channels(), datum.height(), datum.width()};
  const size_t plane = static_cast<size_t>(shape[1]) * shape[2];
  std::vector<double> sums(shape[0] * plane, 0.0);
  ImageMean result;
  do {
    if (result.records > 0) read_datum(reader, db_path, ImageChannels::NATIVE, shape, &datum);
    accumulate(datum, &sums);
    ++result.records;
  } while (reader.next());

  BlobShape* blob_shape = result.mean.mutable_shape();
  blob_shape->add_dim(1);
  for (int dim : shape) blob_shape->add_dim(dim);
  for (double sum : sums) result.mean.add_data(static_cast<float>(sum / result.records));
  for (int c = 0; c < shape[0]; ++c) {
    double channel_sum = 0;
    for (size_t i = 0; i < plane; ++i) channel_sum += sums[c * plane + i];
    result.channel_means.push_back(channel_sum / (plane * static_cast<double>(result.records)));
  }
  return result;
}

}  // namespace caffe
