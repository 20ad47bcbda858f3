#pragma once

#include <cstddef>

#include "caffe/layers/datum_batch_layer.hpp"

namespace caffe {

// ImageData: reads the JPEG / PNG images an image list names (`image_data_param.source`, one
// `path label` per line, each path prefixed with root_folder) and emits
//   top[0] = N x C x H' x W' transformed values (see DataTransformer), top[1] = N labels.
// Images decode to 3 channels (BGR) or, with is_color: false, to 1, and are resized (bilinear)
// to new_height x new_width when both are set; otherwise every image must have the first one's
// size.  Batch b holds stream positions rand_skip + b*N + k of a stream that runs through the
// list epoch after epoch, each epoch in list order or, with `shuffle`, in a permutation drawn
// from random_seed() and the epoch, so any batch can be recomputed (exact resume).  As in Data,
// rand_skip is a fixed offset rather than BVLC's random one, for that reason.  In data-parallel
// training, rank r of K reads stream positions rand_skip + r, rand_skip + r + K, ...
// (data_shard.hpp).
class ImageDataLayer : public DatumBatchLayer {
 public:
  using DatumBatchLayer::DatumBatchLayer;
  const char* type() const override { return "ImageData"; }

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

  // Entries in the list when the layer was set up.
  size_t num_images() const { return num_images_; }

 private:
  size_t num_images_ = 0;
};

}  // namespace caffe
