// Images as Datum records, the way convert_imageset writes them and the Data and ImageData
// layers read them: a raw Datum holds C x H x W uint8 planes (BGR for colour), an encoded one
// the JPEG or PNG bytes (`encoded: true`) and only its label besides.
#pragma once

#include <string>
#include <string_view>

#include "caffe/data/image_codec.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

// What becomes of a decoded image: its channels, then a resize when both sizes are positive
// (BVLC's resize_height / resize_width, new_height / new_width).
struct ImageShaping {
  ImageChannels channels = ImageChannels::COLOR;
  int height = 0;
  int width = 0;
};

Image shape_image(Image image, const ImageShaping& shaping);
// decode_image with the file's own channels, then shape_image.
Image load_image(std::string_view bytes, const ImageShaping& shaping, const std::string& origin);

// A raw Datum of the image's pixels (interleaved H x W x C becomes C planes of H x W).
Datum image_to_datum(const Image& image, int label);

// Replaces an encoded datum by the raw one its bytes decode to (label kept); a raw datum is
// left alone.  `origin` names the record in errors.
void decode_datum(Datum* datum, ImageChannels channels, const std::string& origin);

// The channels transform_param asks encoded datums to decode to: force_color, force_gray, or
// the image's own; both flags at once are an error.
ImageChannels decoded_channels(const TransformationParameter& param);

}  // namespace caffe
