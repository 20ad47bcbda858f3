// Tests of the image codec: JPEG / PNG round trips on generated images, the channel order
// against hand-built files, channel conversion, damaged bytes (always a caffe::Error, never a
// crash), bilinear resizing, and encoded Datums.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

// The libjpeg headers need <cstdio> (FILE, size_t) before them: a block of their own.
#include <jpeglib.h>

#include "caffe/data/image_codec.hpp"
#include "caffe/data/image_datum.hpp"
#include "test_util.hpp"

namespace caffe {
namespace {

// A smooth colour pattern with a little noise: JPEG-friendly but not trivial.
Image pattern_image(int height, int width, int channels, uint32_t seed = 3) {
  std::mt19937 random(seed);
  Image image{height, width, channels,
              std::vector<uint8_t>(static_cast<size_t>(height) * width * channels)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int value = 40 + (150 * x) / width + (40 * y) / height + 20 * c + random() % 5;
        image.pixels[(static_cast<size_t>(y) * width + x) * channels + c] =
            static_cast<uint8_t>(value);
      }
    }
  }
  return image;
}

double mean_abs_difference(const Image& a, const Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  double total = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) total += std::abs(a.pixels[i] - b.pixels[i]);
  return total / static_cast<double>(a.pixels.size());
}

void expect_same_shape(const Image& image, int height, int width, int channels) {
  EXPECT_EQ(image.height, height);
  EXPECT_EQ(image.width, width);
  EXPECT_EQ(image.channels, channels);
  EXPECT_EQ(image.pixels.size(), static_cast<size_t>(height) * width * channels);
}

// A PNG chunk: length, type, data, CRC of type + data.
std::string png_chunk(const std::string& type, const std::string& data) {
  std::string chunk;
  const auto put32 = [&chunk](uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) chunk.push_back(static_cast<char>(value >> shift));
  };
  put32(static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  chunk += body;
  put32(static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  return chunk;
}

// An 8-bit PNG built by hand (not by the codec under test): `samples` holds the first row of
// R, G, B triples (colour_type 2) or gray values (colour_type 0); `height` is what the header
// claims.
std::string handmade_png(int width, int colour_type, const std::string& samples, int height = 1) {
  std::string header;
  for (uint32_t value : {static_cast<uint32_t>(width), static_cast<uint32_t>(height)}) {
    for (int shift = 24; shift >= 0; shift -= 8)
      header.push_back(static_cast<char>(value >> shift));
  }
  header += std::string{8, static_cast<char>(colour_type), 0, 0, 0};
  const std::string raw = std::string(1, '\0') + samples;  // filter type 0 for the one row
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string compressed(size, '\0');
  compress(reinterpret_cast<Bytef*>(&compressed[0]), &size,
           reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()));
  compressed.resize(size);
  return std::string("\x89PNG\r\n\x1A\n", 8) + png_chunk("IHDR", header) +
         png_chunk("IDAT", compressed) + png_chunk("IEND", "");
}

TEST(ImageCodecTest, PngRoundTripIsExact) {
  for (int channels : {1, 3}) {
    const Image image = pattern_image(13, 21, channels);
    const std::string png = encode_image(image, ImageFormat::PNG);
    EXPECT_EQ(sniff_image_format(png), ImageFormat::PNG);
    const Image decoded = decode_image(png, ImageChannels::NATIVE, "test png");
    expect_same_shape(decoded, 13, 21, channels);
    EXPECT_EQ(decoded.pixels, image.pixels);
  }
}

TEST(ImageCodecTest, JpegRoundTripIsClose) {
  for (int channels : {1, 3}) {
    const Image image = pattern_image(24, 40, channels);
    const std::string jpeg = encode_image(image, ImageFormat::JPEG, 95);
    EXPECT_EQ(sniff_image_format(jpeg), ImageFormat::JPEG);
    const Image decoded = decode_image(jpeg, ImageChannels::NATIVE, "test jpeg");
    expect_same_shape(decoded, 24, 40, channels);
    EXPECT_LT(mean_abs_difference(decoded, image), 3.0) << channels << " channel(s)";
    // Lower quality: smaller file, still the same picture.
    const std::string rough = encode_image(image, ImageFormat::JPEG, 30);
    EXPECT_LT(rough.size(), jpeg.size());
    EXPECT_LT(mean_abs_difference(decode_image(rough, ImageChannels::NATIVE, "rough"), image), 8.0);
  }
}

TEST(ImageCodecTest, DecodesToBgrOrder) {
  // One red, one green, one blue pixel, written as R G B by the PNG format itself.
  const std::string rgb_png = handmade_png(3, 2, std::string("\xFF\0\0\0\xFF\0\0\0\xFF", 9));
  const Image image = decode_image(rgb_png, ImageChannels::NATIVE, "handmade");
  expect_same_shape(image, 1, 3, 3);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0, 0, 255, 0, 255, 0, 255, 0, 0}));
  // The JPEG path agrees (colours survive compression approximately).
  const Image via_jpeg = decode_image(encode_image(resize_image(image, 8, 24), ImageFormat::JPEG),
                                      ImageChannels::NATIVE, "jpeg");
  EXPECT_GT(via_jpeg.pixels[(4 * 24 + 1) * 3 + 2], 200);  // red stays in channel 2 on the left
  EXPECT_LT(via_jpeg.pixels[(4 * 24 + 1) * 3 + 0], 60);
  EXPECT_GT(via_jpeg.pixels[(4 * 24 + 22) * 3 + 0], 200);  // blue in channel 0 on the right
}

TEST(ImageCodecTest, ChannelConversions) {
  const std::string gray_png = handmade_png(2, 0, std::string("\x10\xF0", 2));
  const Image gray = decode_image(gray_png, ImageChannels::NATIVE, "gray");
  expect_same_shape(gray, 1, 2, 1);
  EXPECT_EQ(gray.pixels, (std::vector<uint8_t>{0x10, 0xF0}));
  EXPECT_EQ(decode_image(gray_png, ImageChannels::COLOR, "gray").pixels,
            (std::vector<uint8_t>{0x10, 0x10, 0x10, 0xF0, 0xF0, 0xF0}));
  // Luma of BGR pixels: 0.114 B + 0.587 G + 0.299 R, rounded.
  const Image bgr{1, 4, 3, {0, 0, 255, 0, 255, 0, 255, 0, 0, 10, 20, 30}};
  EXPECT_EQ(convert_channels(bgr, ImageChannels::GRAY).pixels,
            (std::vector<uint8_t>{76, 150, 29, 22}));
  EXPECT_EQ(convert_channels(bgr, ImageChannels::NATIVE).pixels, bgr.pixels);
  EXPECT_EQ(decode_image(handmade_png(3, 2, std::string("\xFF\0\0\0\xFF\0\0\0\xFF", 9)),
                         ImageChannels::GRAY, "rgb")
                .pixels,
            (std::vector<uint8_t>{76, 150, 29}));
}

// A CMYK JPEG as Adobe writes them (inverted inks), built with libjpeg directly.
std::string cmyk_jpeg(int height, int width, const uint8_t stored[4]) {
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = width;
  info.image_height = height;
  info.input_components = 4;
  info.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 95, TRUE);
  jpeg_start_compress(&info, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(width) * 4);
  for (int x = 0; x < width; ++x) std::copy(stored, stored + 4, row.begin() + 4 * x);
  while (info.next_scanline < info.image_height) {
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&info, &pointer, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string bytes(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  return bytes;
}

TEST(ImageCodecTest, CmykJpegBecomesBgr) {
  const uint8_t full_cyan[4] = {0, 255, 255, 255};  // inverted: cyan ink only
  const Image image = decode_image(cmyk_jpeg(8, 8, full_cyan), ImageChannels::NATIVE, "cmyk");
  expect_same_shape(image, 8, 8, 3);
  EXPECT_GT(image.pixels[0], 245);  // blue
  EXPECT_GT(image.pixels[1], 245);  // green
  EXPECT_LT(image.pixels[2], 10);   // red absorbed by cyan
}

TEST(ImageCodecTest, DamagedBytesAreErrorsNamingTheOrigin) {
  const Image image = pattern_image(32, 32, 3);
  const std::string jpeg = encode_image(image, ImageFormat::JPEG);
  const std::string png = encode_image(image, ImageFormat::PNG);
  const auto message = [](const std::string& bytes) {
    return test::error_of([&] { decode_image(bytes, ImageChannels::COLOR, "image 'x.img'"); });
  };
  const std::string truncated_jpeg = message(jpeg.substr(0, jpeg.size() / 2));
  EXPECT_NE(truncated_jpeg.find("image 'x.img' is not a readable JPEG: Premature end of JPEG file"),
            std::string::npos)
      << truncated_jpeg;
  const std::string truncated_png = message(png.substr(0, png.size() / 2));
  EXPECT_NE(truncated_png.find("image 'x.img' is not a readable PNG"), std::string::npos)
      << truncated_png;
  EXPECT_NE(message(png.substr(0, png.size() - 4)).find("not a readable PNG"), std::string::npos);
  EXPECT_NE(message("").find("image 'x.img' is not a JPEG or PNG image (0 bytes)"),
            std::string::npos);
  EXPECT_NE(message("GIF89a....").find("unknown signature"), std::string::npos);
  EXPECT_NE(message(jpeg.substr(0, 3) + std::string(100, '\x55')).find("not a readable JPEG"),
            std::string::npos);
  EXPECT_NE(message(png.substr(0, 8) + std::string(100, '\x55')).find("not a readable PNG"),
            std::string::npos);
}

TEST(ImageCodecTest, ForgedHugeHeaderIsRefusedBeforeAllocating) {
  // A valid header claiming 16000 x 16000 pixels over a few bytes of data.
  const std::string png = handmade_png(16000, 0, std::string(16000, '\x7F'), 16000);
  const std::string bad =
      test::error_of([&] { decode_image(png, ImageChannels::NATIVE, "forged"); });
  EXPECT_NE(bad.find("forged is 16000x16000 pixels, more than the 134217728"), std::string::npos)
      << bad;
}

TEST(ImageCodecTest, RandomCorruptionNeverCrashes) {
  const Image image = pattern_image(16, 16, 3);
  std::mt19937 random(11);
  for (ImageFormat format : {ImageFormat::JPEG, ImageFormat::PNG}) {
    const std::string good = encode_image(image, format);
    int errors = 0;
    for (int trial = 0; trial < 150; ++trial) {
      std::string bytes = good;
      for (int flips = 0; flips < 4; ++flips) {
        const size_t at = 3 + random() % (bytes.size() - 3);  // keep the signature
        bytes[at] = static_cast<char>(random() & 0xFF);
      }
      if (trial % 3 == 0) bytes.resize(3 + random() % (bytes.size() - 3));
      try {
        const Image decoded = decode_image(bytes, ImageChannels::NATIVE, "fuzz");
        EXPECT_EQ(decoded.pixels.size(),
                  static_cast<size_t>(decoded.height) * decoded.width * decoded.channels);
      } catch (const Error&) {
        ++errors;
      }
    }
    EXPECT_GT(errors, 50) << image_format_name(format);
  }
}

TEST(ImageCodecTest, FormatNames) {
  EXPECT_EQ(image_format_from_name("jpg"), ImageFormat::JPEG);
  EXPECT_EQ(image_format_from_name(".JPEG"), ImageFormat::JPEG);
  EXPECT_EQ(image_format_from_name("Png"), ImageFormat::PNG);
  EXPECT_NE(
      test::error_of([] { image_format_from_name("bmp"); }).find("unknown image encoding 'bmp'"),
      std::string::npos);
  const Image image = pattern_image(2, 2, 3);
  EXPECT_NE(test::error_of([&] { encode_image(image, ImageFormat::JPEG, 0); }).find("quality 0"),
            std::string::npos);
  const Image four{1, 1, 4, {1, 2, 3, 4}};
  EXPECT_NE(test::error_of([&] { encode_image(four, ImageFormat::PNG); }).find("4 channels"),
            std::string::npos);
}

TEST(ImageResizeTest, IdentityAndConstant) {
  const Image image = pattern_image(5, 7, 3);
  EXPECT_EQ(resize_image(image, 5, 7).pixels, image.pixels);
  Image flat{6, 4, 1, std::vector<uint8_t>(24, 77)};
  const Image bigger = resize_image(flat, 13, 9);
  expect_same_shape(bigger, 13, 9, 1);
  for (uint8_t value : bigger.pixels) EXPECT_EQ(value, 77);
}

TEST(ImageResizeTest, HalvingAveragesTwoByTwoBlocks) {
  const Image image = pattern_image(6, 8, 3);
  const Image half = resize_image(image, 3, 4);
  expect_same_shape(half, 3, 4, 3);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) {
      for (int c = 0; c < 3; ++c) {
        const auto at = [&](int yy, int xx) { return image.pixels[(yy * 8 + xx) * 3 + c]; };
        const double mean = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) +
                             at(2 * y + 1, 2 * x + 1)) /
                            4.0;
        EXPECT_EQ(half.pixels[(y * 4 + x) * 3 + c], static_cast<int>(mean + 0.5))
            << y << "," << x << "," << c;
      }
    }
  }
}

TEST(ImageResizeTest, UpscalingInterpolatesBetweenCentres) {
  // Source centres at x = 0.5 and 1.5 (in source pixels); targets at 0.25, 0.75, 1.25, 1.75
  // map to -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1) between them.
  const Image row{1, 2, 1, {0, 100}};
  EXPECT_EQ(resize_image(row, 1, 4).pixels, (std::vector<uint8_t>{0, 25, 75, 100}));
  const Image column{2, 1, 1, {200, 0}};
  EXPECT_EQ(resize_image(column, 4, 1).pixels, (std::vector<uint8_t>{200, 150, 50, 0}));
  EXPECT_NE(test::error_of([&] { resize_image(row, 0, 3); }).find("0"), std::string::npos);
}

TEST(ImageDatumTest, ImageToDatumIsPlanarAndDecodeDatumInverts) {
  const Image image{2, 2, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
  const Datum datum = image_to_datum(image, 4);
  EXPECT_EQ(datum.channels(), 3);
  EXPECT_EQ(datum.height(), 2);
  EXPECT_EQ(datum.width(), 2);
  EXPECT_EQ(datum.label(), 4);
  EXPECT_EQ(datum.data(), std::string({1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12}));

  Datum encoded;
  encoded.set_encoded(true);
  encoded.set_label(9);
  encoded.set_data(encode_image(image, ImageFormat::PNG));
  Datum decoded = encoded;
  decode_datum(&decoded, ImageChannels::NATIVE, "record");
  EXPECT_FALSE(decoded.encoded());
  EXPECT_EQ(decoded.data(), datum.data());
  EXPECT_EQ(decoded.label(), 9);
  decoded = encoded;
  decode_datum(&decoded, ImageChannels::GRAY, "record");
  EXPECT_EQ(decoded.channels(), 1);
  Datum raw = datum;
  decode_datum(&raw, ImageChannels::GRAY, "record");  // raw datums are left alone
  EXPECT_EQ(raw.SerializeAsString(), datum.SerializeAsString());

  TransformationParameter param;
  EXPECT_EQ(decoded_channels(param), ImageChannels::NATIVE);
  param.set_force_gray(true);
  EXPECT_EQ(decoded_channels(param), ImageChannels::GRAY);
  param.set_force_color(true);
  EXPECT_NE(
      test::error_of([&] { decoded_channels(param); }).find("both force_color and force_gray"),
      std::string::npos);
}

}  // namespace
}  // namespace caffe
