// DataTransformer: turns a Datum (uint8 `data` or `float_data`, C x H x W) into the floats a
// net consumes, following `transform_param`:
//   out[c][y][x] = (in[c][y + dy][x' + dx] - mean[c][y + dy][x' + dx]) * scale,
// with x' = x, or crop - 1 - x when mirrored.  TRAIN draws the crop offset (dy, dx) and the
// mirror flip from caffe::uniform_at(key, ...); TEST takes the centre crop and never mirrors.
#pragma once

#include <cstdint>
#include <vector>

#include "caffe/core/common.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

// Nets written for older Caffes may carry scale / mean_file / crop_size / mirror in their
// data_param or image_data_param (`Legacy`); they mean the same as their transform_param
// namesakes (BVLC's upgrade moved them there).  `where` names the legacy message in the error
// for a field set in both places.
template <typename Legacy>
TransformationParameter with_legacy_transform_fields(TransformationParameter transform,
                                                     const Legacy& legacy, const char* where) {
  const auto conflict = [where](const char* field) {
    fail("sets ", field, " in both ", where, " and transform_param; keep the transform_param one");
  };
  if (legacy.has_scale()) {
    if (transform.has_scale()) conflict("scale");
    transform.set_scale(legacy.scale());
  }
  if (legacy.has_mean_file()) {
    if (transform.has_mean_file()) conflict("mean_file");
    transform.set_mean_file(legacy.mean_file());
  }
  if (legacy.has_crop_size()) {
    if (transform.has_crop_size()) conflict("crop_size");
    transform.set_crop_size(legacy.crop_size());
  }
  if (legacy.has_mirror()) {
    if (transform.has_mirror()) conflict("mirror");
    transform.set_mirror(legacy.mirror());
  }
  return transform;
}

// Checks that a record is a usable C x H x W datum: not encoded, `channels/height/width` equal
// to the expected shape, and exactly C*H*W values in `data` or `float_data`.
void check_datum(const Datum& datum, int channels, int height, int width);

class DataTransformer {
 public:
  DataTransformer(const TransformationParameter& param, Phase phase);

  // Fixes the shape every datum has; validates crop_size and loads and checks the mean.
  void SetDatumShape(int channels, int height, int width);
  // C x H' x W' of one transformed datum (H' = W' = crop_size when cropping).
  std::vector<int> output_shape() const;
  int output_count() const;

  // Writes output_count() floats for `datum` (which must pass check_datum).  `key` selects
  // the crop offset and mirror flip in TRAIN; the same key always gives the same output.
  void Transform(const Datum& datum, uint64_t key, float* out) const;

 private:
  struct Placement {
    int dy = 0;
    int dx = 0;
    bool mirror = false;
  };
  Placement PlacementFor(uint64_t key) const;
  template <typename Pixel>
  void TransformPixels(const Pixel* in, const Placement& placement, float* out) const;
  void LoadMean();

  TransformationParameter param_;
  Phase phase_;
  int channels_ = 0;
  int height_ = 0;
  int width_ = 0;
  int out_height_ = 0;
  int out_width_ = 0;
  std::vector<float> mean_image_;     // C*H*W values from mean_file, or empty
  std::vector<float> channel_means_;  // C values (zeros without mean_value)
};

}  // namespace caffe
