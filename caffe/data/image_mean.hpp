// The mean image of an LMDB of Datums, the work behind tools/compute_image_mean.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "proto/caffe.pb.h"

namespace caffe {

struct ImageMean {
  BlobProto mean;  // 1 x C x H x W, what transform_param.mean_file reads
  size_t records = 0;
  std::vector<double> channel_means;  // the mean of each channel's plane
};

// Averages every record of the LMDB at `db_path`: raw (uint8 `data` or `float_data`) or
// encoded (decoded with the image's own channels).  Every record must have the first one's
// C x H x W; errors name the record.
ImageMean compute_image_mean(const std::string& db_path);

}  // namespace caffe
