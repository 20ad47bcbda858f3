#include "caffe/data/image_codec.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "caffe/core/common.hpp"
#include "caffe/data/image_formats.hpp"

namespace caffe {
namespace {

constexpr std::string_view kJpegSignature("\xFF\xD8\xFF", 3);
constexpr std::string_view kPngSignature("\x89PNG\r\n\x1A\n", 8);

// Where output sample o of one axis reads the source: the neighbours `low` and `high` and the
// weight of `high`.
struct AxisTaps {
  std::vector<int> low;
  std::vector<int> high;
  std::vector<float> weight;
};

AxisTaps bilinear_taps(int source, int target) {
  AxisTaps taps;
  const double ratio = static_cast<double>(source) / target;
  for (int o = 0; o < target; ++o) {
    const double position = std::max(0.0, (o + 0.5) * ratio - 0.5);
    const int low = std::min(static_cast<int>(position), source - 1);
    const int high = std::min(low + 1, source - 1);
    taps.low.push_back(low);
    taps.high.push_back(high);
    taps.weight.push_back(high == low ? 0.0f : static_cast<float>(position - low));
  }
  return taps;
}

uint8_t round_to_byte(float value) {
  return static_cast<uint8_t>(std::clamp(value + 0.5f, 0.0f, 255.0f));
}

}  // namespace

std::optional<ImageFormat> sniff_image_format(std::string_view bytes) {
  if (bytes.substr(0, kJpegSignature.size()) == kJpegSignature) return ImageFormat::JPEG;
  if (bytes.substr(0, kPngSignature.size()) == kPngSignature) return ImageFormat::PNG;
  return std::nullopt;
}

ImageFormat image_format_from_name(const std::string& name) {
  std::string lower = name.size() > 1 && name[0] == '.' ? name.substr(1) : name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "jpg" || lower == "jpeg") return ImageFormat::JPEG;
  if (lower == "png") return ImageFormat::PNG;
  fail("unknown image encoding '", name, "'; use jpg or png");
}

const char* image_format_name(ImageFormat format) {
  return format == ImageFormat::JPEG ? "jpg" : "png";
}

void check_image_dimensions(int64_t width, int64_t height, const std::string& origin) {
  if (width <= 0 || height <= 0) fail(origin, " has an empty size ", width, "x", height);
  if (width > kMaxImagePixels / height) {
    fail(origin, " is ", width, "x", height, " pixels, more than the ", kMaxImagePixels,
         " this decoder accepts");
  }
}

Image decode_image(std::string_view bytes, ImageChannels channels, const std::string& origin) {
  const std::optional<ImageFormat> format = sniff_image_format(bytes);
  if (!format) {
    fail(origin, " is not a JPEG or PNG image (", bytes.size(), " bytes",
         bytes.empty() ? "" : " with an unknown signature", ")");
  }
  Image image =
      *format == ImageFormat::JPEG ? decode_jpeg(bytes, origin) : decode_png(bytes, origin);
  return convert_channels(std::move(image), channels);
}

std::string encode_image(const Image& image, ImageFormat format, int jpeg_quality) {
  if (image.channels != 1 && image.channels != 3) {
    fail("cannot encode an image with ", image.channels, " channels (1 or 3 expected)");
  }
  if (image.pixels.size() != static_cast<size_t>(image.height) * image.width * image.channels) {
    fail("cannot encode a ", image.width, "x", image.height, "x", image.channels, " image holding ",
         image.pixels.size(), " values");
  }
  check_image_dimensions(image.width, image.height, "the image to encode");
  if (format == ImageFormat::PNG) return encode_png(image);
  if (jpeg_quality < 1 || jpeg_quality > 100)
    fail("JPEG quality ", jpeg_quality, " is not in 1..100");
  return encode_jpeg(image, jpeg_quality);
}

Image convert_channels(Image image, ImageChannels channels) {
  const int wanted = channels == ImageChannels::COLOR  ? 3
                     : channels == ImageChannels::GRAY ? 1
                                                       : image.channels;
  if (wanted == image.channels) return image;
  const size_t count = static_cast<size_t>(image.height) * image.width;
  Image converted{image.height, image.width, wanted, std::vector<uint8_t>(count * wanted)};
  const uint8_t* in = image.pixels.data();
  uint8_t* out = converted.pixels.data();
  if (wanted == 3) {
    for (size_t i = 0; i < count; ++i) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = in[i];
  } else {
    for (size_t i = 0; i < count; ++i) {  // BGR in
      out[i] = round_to_byte(0.114f * in[3 * i] + 0.587f * in[3 * i + 1] + 0.299f * in[3 * i + 2]);
    }
  }
  return converted;
}

Image resize_image(const Image& image, int height, int width) {
  if (height <= 0 || width <= 0) fail("cannot resize an image to ", width, "x", height);
  if (image.height <= 0 || image.width <= 0) fail("cannot resize an empty image");
  if (height == image.height && width == image.width) return image;
  const AxisTaps rows = bilinear_taps(image.height, height);
  const AxisTaps cols = bilinear_taps(image.width, width);
  const int channels = image.channels;
  const size_t stride = static_cast<size_t>(image.width) * channels;
  Image resized{height, width, channels,
                std::vector<uint8_t>(static_cast<size_t>(height) * width * channels)};
  uint8_t* out = resized.pixels.data();
  for (int y = 0; y < height; ++y) {
    const uint8_t* upper = image.pixels.data() + rows.low[y] * stride;
    const uint8_t* lower = image.pixels.data() + rows.high[y] * stride;
    const float wy = rows.weight[y];
    for (int x = 0; x < width; ++x) {
      const int left = cols.low[x] * channels;
      const int right = cols.high[x] * channels;
      const float wx = cols.weight[x];
      for (int c = 0; c < channels; ++c) {
        const float top = upper[left + c] + wx * (upper[right + c] - upper[left + c]);
        const float bottom = lower[left + c] + wx * (lower[right + c] - lower[left + c]);
        *out++ = round_to_byte(top + wy * (bottom - top));
      }
    }
  }
  return resized;
}

}  // namespace caffe
