// 8-bit images in memory and their JPEG / PNG form: decoding (libjpeg-turbo, libpng), encoding,
// channel conversion and bilinear resizing.  Colour images are BGR, Caffe's channel order.
// Damaged or truncated bytes are a caffe::Error naming their origin, never a crash or a
// silently grey-filled image.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caffe {

// Rows top to bottom, channels interleaved per pixel (H x W x C); C is 1 (gray) or 3 (BGR).
struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels values
};

// The channels a decoded image gets: the file's own (gray stays 1, colour 3), always 3 (gray
// replicated), or always 1 (luma 0.299 R + 0.587 G + 0.114 B, rounded).
enum class ImageChannels { NATIVE, COLOR, GRAY };

enum class ImageFormat { JPEG, PNG };

// Images larger than this many pixels are refused before any pixel buffer is allocated (a
// forged header must not make the decoder ask for gigabytes).
constexpr int64_t kMaxImagePixels = int64_t{1} << 27;

// The format the bytes' signature names, if it is JPEG or PNG.
std::optional<ImageFormat> sniff_image_format(std::string_view bytes);
// "jpg" / "jpeg" / "png" (any case, a leading dot allowed); anything else is an error.
ImageFormat image_format_from_name(const std::string& name);
const char* image_format_name(ImageFormat format);

// Decodes JPEG or PNG bytes (told apart by their signature).  `origin` names the bytes in
// error messages ("image 'cat.jpg'", "record '00000012'").
Image decode_image(std::string_view bytes, ImageChannels channels, const std::string& origin);
// JPEG at `jpeg_quality` (1..100) or lossless PNG.
std::string encode_image(const Image& image, ImageFormat format, int jpeg_quality = 95);

Image convert_channels(Image image, ImageChannels channels);
// Bilinear resampling with pixel centres aligned (source x = (x + 0.5) * W / W' - 0.5, clamped
// at the borders), rounded to the nearest value.
Image resize_image(const Image& image, int height, int width);

}  // namespace caffe
