#include "caffe/data/image_datum.hpp"

#include "caffe/core/common.hpp"

namespace caffe {

Image shape_image(Image image, const ImageShaping& shaping) {
  image = convert_channels(std::move(image), shaping.channels);
  if (shaping.height > 0 && shaping.width > 0) {
    return resize_image(image, shaping.height, shaping.width);
  }
  return image;
}

Image load_image(std::string_view bytes, const ImageShaping& shaping, const std::string& origin) {
  return shape_image(decode_image(bytes, ImageChannels::NATIVE, origin), shaping);
}

Datum image_to_datum(const Image& image, int label) {
  const size_t plane = static_cast<size_t>(image.height) * image.width;
  std::string planes(plane * image.channels, '\0');
  for (int c = 0; c < image.channels; ++c) {
    for (size_t i = 0; i < plane; ++i) {
      planes[c * plane + i] = static_cast<char>(image.pixels[i * image.channels + c]);
    }
  }
  Datum datum;
  datum.set_channels(image.channels);
  datum.set_height(image.height);
  datum.set_width(image.width);
  datum.set_data(std::move(planes));
  datum.set_label(label);
  return datum;
}

void decode_datum(Datum* datum, ImageChannels channels, const std::string& origin) {
  if (!datum->encoded()) return;
  *datum = image_to_datum(decode_image(datum->data(), channels, origin), datum->label());
}

ImageChannels decoded_channels(const TransformationParameter& param) {
  if (param.force_color() && param.force_gray()) {
    fail("transform_param sets both force_color and force_gray; use one");
  }
  if (param.force_color()) return ImageChannels::COLOR;
  if (param.force_gray()) return ImageChannels::GRAY;
  return ImageChannels::NATIVE;
}

}  // namespace caffe
