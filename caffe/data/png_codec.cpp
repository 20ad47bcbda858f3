// PNG through libpng.  libpng reports errors through a callback that must not return; ours
// longjmps back to the setjmp in the run_* function that drove the library.  Those functions
// hold no object with a destructor (state lives in the caller's RAII struct), so the jump skips
// only libpng's own C frames.  Bytes are read from and written to memory by callbacks.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "caffe/core/common.hpp"
#include "caffe/data/image_formats.hpp"

namespace caffe {
namespace {

struct PngErrors {
  std::jmp_buf jump;
  char message[256];
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  PngErrors* errors = static_cast<PngErrors*>(png_get_error_ptr(png));
  std::snprintf(errors->message, sizeof(errors->message), "%s", message);
  std::longjmp(errors->jump, 1);
}

// Warnings concern ancillary data (a bad gamma chunk, a CRC error in a text chunk); the pixels
// are intact, so they are dropped rather than printed.
void on_png_warning(png_structp /*png*/, png_const_charp /*message*/) {}

struct MemorySource {
  std::string_view bytes;
  size_t offset = 0;
};

void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
  MemorySource* source = static_cast<MemorySource*>(png_get_io_ptr(png));
  if (length > source->bytes.size() - source->offset) png_error(png, "the data ends early");
  std::memcpy(out, source->bytes.data() + source->offset, length);
  source->offset += length;
}

void append_to_string(png_structp png, png_bytep data, png_size_t length) {
  std::string* sink = static_cast<std::string*>(png_get_io_ptr(png));
  bool appended = true;
  try {
    sink->append(reinterpret_cast<const char*>(data), length);
  } catch (const std::bad_alloc&) {
    appended = false;  // png_error is called outside the handler: the jump must not leave it
  }
  if (!appended) png_error(png, "out of memory");
}

// libpng returns null, without calling the error handler, when it cannot allocate its structs.
bool out_of_memory(PngErrors* errors) {
  std::snprintf(errors->message, sizeof(errors->message), "out of memory");
  return false;
}

void flush_nothing(png_structp /*png*/) {}

// Row pointers into an image's pixels, as libpng reads and writes whole images.
void point_rows(const Image& image, std::vector<png_bytep>* rows) {
  const size_t stride = static_cast<size_t>(image.width) * image.channels;
  rows->resize(image.height);
  for (int y = 0; y < image.height; ++y) {
    (*rows)[y] = const_cast<png_bytep>(image.pixels.data() + y * stride);
  }
}

struct PngDecoding {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngErrors errors{};
  MemorySource source;
  Image image;
  std::vector<png_bytep> rows;
  ~PngDecoding() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

// Asks libpng for 8-bit gray or BGR whatever the file holds: 16-bit samples are reduced,
// palettes and 1/2/4-bit gray expanded, alpha dropped, interlacing undone.
void request_gray_or_bgr(png_structp png, png_infop info) {
  const int color_type = png_get_color_type(png, info);
  png_set_strip_16(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);
  if (color_type & PNG_COLOR_MASK_COLOR) png_set_bgr(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
}

bool run_decoder(PngDecoding* state, const std::string& origin) {
  if (setjmp(state->errors.jump)) return false;
  state->png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &state->errors, on_png_error, on_png_warning);
  if (state->png) state->info = png_create_info_struct(state->png);
  if (!state->info) return out_of_memory(&state->errors);
  png_set_read_fn(state->png, &state->source, read_from_memory);
  png_read_info(state->png, state->info);
  check_image_dimensions(png_get_image_width(state->png, state->info),
                         png_get_image_height(state->png, state->info), origin);
  request_gray_or_bgr(state->png, state->info);
  Image& image = state->image;
  image.width = static_cast<int>(png_get_image_width(state->png, state->info));
  image.height = static_cast<int>(png_get_image_height(state->png, state->info));
  image.channels = png_get_channels(state->png, state->info);
  if ((image.channels != 1 && image.channels != 3) ||
      png_get_rowbytes(state->png, state->info) !=
          static_cast<size_t>(image.width) * image.channels) {
    png_error(state->png, "unexpected sample layout after conversion to 8-bit gray or BGR");
  }
  image.pixels.resize(static_cast<size_t>(image.height) * image.width * image.channels);
  point_rows(image, &state->rows);
  png_read_image(state->png, state->rows.data());
  png_read_end(state->png, nullptr);  // checks the rest of the file, up to IEND
  return true;
}

struct PngEncoding {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngErrors errors{};
  std::string bytes;
  std::vector<png_bytep> rows;
  ~PngEncoding() {
    if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
  }
};

bool run_encoder(PngEncoding* state, const Image& image) {
  if (setjmp(state->errors.jump)) return false;
  state->png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &state->errors, on_png_error, on_png_warning);
  if (state->png) state->info = png_create_info_struct(state->png);
  if (!state->info) return out_of_memory(&state->errors);
  png_set_write_fn(state->png, &state->bytes, append_to_string, flush_nothing);
  png_set_IHDR(state->png, state->info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), 8,
               image.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(state->png, state->info);
  if (image.channels == 3) png_set_bgr(state->png);
  point_rows(image, &state->rows);
  png_write_image(state->png, state->rows.data());
  png_write_end(state->png, nullptr);
  return true;
}

}  // namespace

Image decode_png(std::string_view bytes, const std::string& origin) {
  auto state = std::make_unique<PngDecoding>();
  state->source.bytes = bytes;
  if (!run_decoder(state.get(), origin)) {
    fail(origin, " is not a readable PNG: ", state->errors.message);
  }
  return std::move(state->image);
}

std::string encode_png(const Image& image) {
  auto state = std::make_unique<PngEncoding>();
  if (!run_encoder(state.get(), image)) fail("PNG encoding failed: ", state->errors.message);
  return std::move(state->bytes);
}

}  // namespace caffe
