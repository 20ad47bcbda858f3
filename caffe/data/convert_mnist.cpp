#include "caffe/data/convert_mnist.hpp"

#include <cstdio>

#include "caffe/core/common.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/idx_reader.hpp"
#include "proto/caffe.pb.h"

namespace caffe {
namespace {

std::string record_key(size_t index) {
  char key[32];
  std::snprintf(key, sizeof(key), "%08zu", index);
  return key;
}

}  // namespace

MnistConversion convert_mnist_to_lmdb(const std::string& images_path,
                                      const std::string& labels_path, const std::string& db_path,
                                      bool overwrite) {
  const IdxArray images = read_idx_file(images_path, kIdxImagesMagic);
  const IdxArray labels = read_idx_file(labels_path, kIdxLabelsMagic);
  if (images.dims[0] != labels.dims[0]) {
    fail("'", images_path, "' holds ", images.dims[0], " images but '", labels_path, "' holds ",
         labels.dims[0], " labels");
  }
  db::prepare_new_database(db_path, overwrite);

  db::LmdbEnvironment environment(db_path, db::LmdbEnvironment::Access::READ_WRITE);
  db::LmdbWriter writer(environment);
  Datum datum;
  datum.set_channels(1);
  datum.set_height(static_cast<int>(images.dims[1]));
  datum.set_width(static_cast<int>(images.dims[2]));
  const size_t pixels = images.item_size();
  std::string value;
  for (size_t i = 0; i < images.dims[0]; ++i) {
    datum.set_data(images.values.data() + i * pixels, pixels);
    datum.set_label(labels.values[i]);
    datum.SerializeToString(&value);
    writer.put(record_key(i), value);
  }
  writer.commit();
  return MnistConversion{writer.committed(), images.dims[1], images.dims[2]};
}

}  // namespace caffe
