// JPEG through libjpeg-turbo.  libjpeg reports a fatal error by calling error_exit, which must
// not return; ours longjmps back to the setjmp in the run_* function that drove the library.
// Those functions hold no object with a destructor (state lives in the caller's RAII struct),
// so the jump skips only libjpeg's own C frames.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <memory>

// The libjpeg headers need <cstdio> (FILE, size_t) before them: a block of their own.
#include <jerror.h>
#include <jpeglib.h>

#include "caffe/core/common.hpp"
#include "caffe/data/image_formats.hpp"

namespace caffe {
namespace {

struct JpegErrors {
  jpeg_error_mgr manager;  // what libjpeg's err pointer addresses
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_jpeg_error(j_common_ptr info) {
  JpegErrors* errors = reinterpret_cast<JpegErrors*>(info->err);
  info->err->format_message(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings (level -1) that mean scan data was missing or damaged are errors: libjpeg would
// otherwise fill the lost part with grey and call the image good.  Other warnings (stray bytes
// between markers, an unknown JFIF version) and trace messages are ignored, never printed.
void on_jpeg_message(j_common_ptr info, int level) {
  if (level >= 0) return;
  switch (info->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      on_jpeg_error(info);
    default:
      return;
  }
}

void install_error_handlers(jpeg_error_mgr* manager, JpegErrors* errors) {
  jpeg_std_error(manager);
  manager->error_exit = on_jpeg_error;
  manager->emit_message = on_jpeg_message;
  errors->message[0] = '\0';
}

struct JpegDecoding {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  bool created = false;
  Image image;  // as libjpeg delivers it: 1, 3 (BGR) or 4 (CMYK) components
  ~JpegDecoding() {
    if (created) jpeg_destroy_decompress(&info);
  }
};

// Runs the decompressor; false when libjpeg failed (the reason is in errors.message).
bool run_decoder(JpegDecoding* state, std::string_view bytes, const std::string& origin) {
  jpeg_decompress_struct* info = &state->info;
  info->err = &state->errors.manager;
  install_error_handlers(&state->errors.manager, &state->errors);
  if (setjmp(state->errors.jump)) return false;
  state->created = true;  // destroying a half-created struct is safe: it checks its pools
  jpeg_create_decompress(info);
  jpeg_mem_src(info, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(info, TRUE);
  check_image_dimensions(info->image_width, info->image_height, origin);
  switch (info->jpeg_color_space) {
    case JCS_GRAYSCALE:
      info->out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      info->out_color_space = JCS_CMYK;  // libjpeg converts YCCK to CMYK, not to RGB
      break;
    default:
      info->out_color_space = JCS_EXT_BGR;
  }
  jpeg_start_decompress(info);
  Image& image = state->image;
  image.height = static_cast<int>(info->output_height);
  image.width = static_cast<int>(info->output_width);
  image.channels = info->output_components;
  const size_t stride = static_cast<size_t>(image.width) * image.channels;
  image.pixels.resize(stride * image.height);
  while (info->output_scanline < info->output_height) {
    JSAMPROW row = image.pixels.data() + info->output_scanline * stride;
    jpeg_read_scanlines(info, &row, 1);
  }
  jpeg_finish_decompress(info);
  return true;
}

// CMYK to BGR: each colour is (1 - ink) * (1 - black).  Adobe writes its CMYK JPEGs with the
// inks inverted (255 = no ink), so there the stored values are the (1 - x) factors already.
Image cmyk_to_bgr(const Image& cmyk, bool inverted) {
  const size_t count = static_cast<size_t>(cmyk.height) * cmyk.width;
  Image bgr{cmyk.height, cmyk.width, 3, std::vector<uint8_t>(count * 3)};
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* ink = &cmyk.pixels[4 * i];
    const auto factor = [&](int channel) { return inverted ? ink[channel] : 255 - ink[channel]; };
    const int black = factor(3);
    for (int colour = 0; colour < 3; ++colour) {  // B from yellow, G from magenta, R from cyan
      bgr.pixels[3 * i + colour] = static_cast<uint8_t>((factor(2 - colour) * black + 127) / 255);
    }
  }
  return bgr;
}

struct FreeDeleter {
  void operator()(unsigned char* buffer) const { std::free(buffer); }
};

struct JpegEncoding {
  jpeg_compress_struct info{};
  JpegErrors errors{};
  bool created = false;
  unsigned char* buffer = nullptr;  // malloc'd by libjpeg's memory destination
  unsigned long size = 0;
  ~JpegEncoding() {
    if (created) jpeg_destroy_compress(&info);
    std::free(buffer);
  }
};

bool run_encoder(JpegEncoding* state, const Image& image, int quality) {
  jpeg_compress_struct* info = &state->info;
  info->err = &state->errors.manager;
  install_error_handlers(&state->errors.manager, &state->errors);
  if (setjmp(state->errors.jump)) return false;
  state->created = true;
  jpeg_create_compress(info);
  jpeg_mem_dest(info, &state->buffer, &state->size);
  info->image_width = static_cast<JDIMENSION>(image.width);
  info->image_height = static_cast<JDIMENSION>(image.height);
  info->input_components = image.channels;
  info->in_color_space = image.channels == 3 ? JCS_EXT_BGR : JCS_GRAYSCALE;
  jpeg_set_defaults(info);
  jpeg_set_quality(info, quality, TRUE);
  jpeg_start_compress(info, TRUE);
  const size_t stride = static_cast<size_t>(image.width) * image.channels;
  while (info->next_scanline < info->image_height) {
    // libjpeg's row type is not const, but compression only reads the rows.
    JSAMPROW row = const_cast<uint8_t*>(image.pixels.data()) + info->next_scanline * stride;
    jpeg_write_scanlines(info, &row, 1);
  }
  jpeg_finish_compress(info);
  return true;
}

}  // namespace

Image decode_jpeg(std::string_view bytes, const std::string& origin) {
  auto state = std::make_unique<JpegDecoding>();
  if (!run_decoder(state.get(), bytes, origin)) {
    fail(origin, " is not a readable JPEG: ", state->errors.message);
  }
  if (state->image.channels == 4) {
    return cmyk_to_bgr(state->image, state->info.saw_Adobe_marker);
  }
  return std::move(state->image);
}

std::string encode_jpeg(const Image& image, int quality) {
  auto state = std::make_unique<JpegEncoding>();
  if (!run_encoder(state.get(), image, quality)) {
    fail("JPEG encoding failed: ", state->errors.message);
  }
  return std::string(reinterpret_cast<const char*>(state->buffer), state->size);
}

}  // namespace caffe
