#include "caffe/layers/image_data_layer.hpp"

#include <memory>
#include <utility>

#include "caffe/core/layer_registry.hpp"
#include "caffe/data/image_list.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

constexpr uint64_t kShuffleSalt = 0x496D616765446174ull;  // "ImageDat"
constexpr size_t kPrefetchDepth = 4;

}  // namespace

void ImageDataLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const ImageDataParameter& param = layer_param_.image_data_param();
  if (param.source().empty()) {
    fail("image_data_param.source is not set; give a list file of 'path label' lines");
  }
  if (param.batch_size() == 0) fail("image_data_param.batch_size must be positive");
  if ((param.new_height() > 0) != (param.new_width() > 0)) {
    fail("image_data_param sets new_height ", param.new_height(), " and new_width ",
         param.new_width(), "; set both to resize, or neither");
  }
  const TransformationParameter transform =
      with_legacy_transform_fields(layer_param_.transform_param(), param, "image_data_param");
  std::vector<ImageListEntry> entries = read_image_list(param.source());
  num_images_ = entries.size();

  ImageListBatchReader::Options options;
  options.list_file = param.source();
  options.root_folder = param.root_folder();
  options.shaping.channels = param.is_color() ? ImageChannels::COLOR : ImageChannels::GRAY;
  options.shaping.height = static_cast<int>(param.new_height());
  options.shaping.width = static_cast<int>(param.new_width());
  options.batch_size = param.batch_size();
  options.skip = param.rand_skip();
  options.shuffle = param.shuffle();
  options.shuffle_key = hash_combine(random_seed(), kShuffleSalt);
  options.shard = data_shard(phase());
  // The first image this layer reads fixes the shape every image must have.
  ImageListOrder order(entries.size(), options.shuffle, options.shuffle_key);
  const uint64_t first_position = options.skip + options.shard.position(0);
  const Datum first = read_listed_image(entries[order.EntryAt(first_position)], options.root_folder,
                                        options.shaping, options.list_file);
  options.datum_shape = {first.channels(), first.height(), first.width()};

  StartBatches(transform, static_cast<int>(param.batch_size()), options.datum_shape,
               std::make_unique<ImageListBatchReader>(std::move(entries), options), kPrefetchDepth);
}

REGISTER_LAYER("ImageData", ImageDataLayer);

}  // namespace caffe
