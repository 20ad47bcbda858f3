// The per-format halves of image_codec (internal): each decoder yields gray or BGR pixels, each
// encoder takes them.  Both libraries report errors through a longjmp; the .cpp files keep every
// object with a destructor out of the frames such a jump crosses.
#pragma once

#include <string>
#include <string_view>

#include "caffe/data/image_codec.hpp"

namespace caffe {

Image decode_jpeg(std::string_view bytes, const std::string& origin);
std::string encode_jpeg(const Image& image, int quality);
Image decode_png(std::string_view bytes, const std::string& origin);
std::string encode_png(const Image& image);

// Errors for width x height images beyond kMaxImagePixels; `origin` names the image.
void check_image_dimensions(int64_t width, int64_t height, const std::string& origin);

}  // namespace caffe
