// Fuzz targets for the data formats: mean files, Datum records, IDX, images, weight-codec packages
// and list files (see fuzz/targets.hpp; HDF5 is in targets_hdf5.cpp).
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "caffe/core/blob.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/data/data_transformer.hpp"
#include "caffe/data/hdf5_reader.hpp"
#include "caffe/data/idx_reader.hpp"
#include "caffe/data/image_datum.hpp"
#include "caffe/data/image_list.hpp"
#include "caffe/data/lmdb_batch_reader.hpp"
#include "caffe/parallel/codec.hpp"
#include "caffe/util/io.hpp"
#include "fuzz/target_support.hpp"

namespace caffe {
namespace fuzz {
namespace {

// Mean files the harness also tries at the shape they claim, up to this many values.
constexpr long long kMaxClaimedMeanValues = 1 << 20;

// Transforms `record` the way a Data layer with `transform` does in `phase`.
void transform_datum(const Datum& record, const TransformationParameter& transform, Phase phase) {
  DataTransformer transformer(transform, phase);
  transformer.SetDatumShape(record.channels(), record.height(), record.width());
  std::vector<float> out(static_cast<size_t>(transformer.output_count()));
  transformer.Transform(record, /*key=*/7, out.data());
}

// The transform settings a Data layer may combine: none, a mirrored random crop, one mean value
// with a scale, and one mean value per channel of three.
std::vector<std::pair<TransformationParameter, Phase>> transform_settings() {
  std::vector<std::pair<TransformationParameter, Phase>> settings(4);
  settings[0].second = TEST;
  settings[1].first.set_crop_size(2);
  settings[1].first.set_mirror(true);
  settings[1].second = TRAIN;
  settings[2].first.add_mean_value(10.0f);
  settings[2].first.set_scale(0.5f);
  settings[2].second = TEST;
  for (float mean : {1.0f, 2.0f, 3.0f}) settings[3].first.add_mean_value(mean);
  settings[3].second = TRAIN;
  return settings;
}

// A raw C x H x W datum with every byte set.
Datum raw_datum(const std::vector<int>& shape) {
  Datum record;
  record.set_channels(shape[0]);
  record.set_height(shape[1]);
  record.set_width(shape[2]);
  record.set_data(std::string(static_cast<size_t>(shape[0]) * shape[1] * shape[2], '\x7f'));
  return record;
}

// The C x H x W a mean file claims (a leading 1 dropped), when it is small enough to try.
std::vector<int> claimed_mean_shape(const std::string& bytes) {
  BlobProto proto;
  std::vector<int> shape;
  if (!proto.ParseFromString(bytes)) return {};
  try {
    shape = proto_shape(proto);
  } catch (const Error&) {
    return {};
  }
  if (shape.size() == 4 && shape[0] == 1) shape.erase(shape.begin());
  if (shape.size() != 3) return {};
  long long values = 1;
  for (int dim : shape) {
    if (dim <= 0) return {};
    values *= dim;
    if (values > kMaxClaimedMeanValues) return {};
  }
  return shape;
}

// Encodes a (small) image and decodes it again: the result must have the same geometry.
void check_round_trip(const Image& image, ImageFormat format) {
  const Image back = decode_image(encode_image(image, format), ImageChannels::NATIVE, "re-encoded");
  if (back.height != image.height || back.width != image.width || back.channels != image.channels) {
    throw std::logic_error("an encoded image decodes to another geometry");
  }
}

}  // namespace

void mean_file(const uint8_t* data, size_t size) {
  const std::string bytes(as_text(data, size));
  const std::string path = write_scratch("fuzz.binaryproto", bytes);
  const BlobMemoryCap cap;
  accept_or_reject([&] {
    BlobProto proto;
    read_proto_from_binary_file(path, &proto);
    Blob blob;
    blob.FromProto(proto);
  });
  std::vector<std::vector<int>> shapes = {{3, 4, 4}};
  const std::vector<int> claimed = claimed_mean_shape(bytes);
  if (!claimed.empty()) shapes.push_back(claimed);
  for (const std::vector<int>& shape : shapes) {
    accept_or_reject([&] {
      TransformationParameter transform;
      transform.set_mean_file(path);
      transform_datum(raw_datum(shape), transform, TEST);
    });
  }
}

void datum(const uint8_t* data, size_t size) {
  accept_or_reject([&] {
    Datum record;
    parse_datum(as_text(data, size), "fuzz record", ImageChannels::NATIVE, {}, &record);
    // The batch reader checks every later record against the first one's shape.
    Datum again;
    parse_datum(as_text(data, size), "fuzz record", ImageChannels::NATIVE,
                {record.channels(), record.height(), record.width()}, &again);
    for (const auto& setting : transform_settings()) {
      accept_or_reject([&] { transform_datum(record, setting.first, setting.second); });
    }
  });
}

void idx(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("fuzz.idx", as_text(data, size));
  for (uint32_t magic : {kIdxImagesMagic, kIdxLabelsMagic}) {
    accept_or_reject([&] { read_idx_file(path, magic); });
  }
}

void image(const uint8_t* data, size_t size) {
  accept_or_reject([&] {
    const Image native = decode_image(as_text(data, size), ImageChannels::NATIVE, "fuzz image");
    image_to_datum(shape_image(native, {ImageChannels::COLOR, 0, 0}), 1);
    const Image small = shape_image(native, {ImageChannels::GRAY, 3, 5});
    image_to_datum(small, 2);
    check_round_trip(small, ImageFormat::PNG);
    check_round_trip(shape_image(native, {ImageChannels::COLOR, 4, 2}), ImageFormat::JPEG);
  });
}

void package(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const BlobMemoryCap cap;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1) && bytes.size() >= kChecksumBytes) {
    // Repair the CRC, so that the mutations reach the fields behind it.
    const size_t body = bytes.size() - kChecksumBytes;
    const uint32_t crc = static_cast<uint32_t>(crc32_z(crc32_z(0, nullptr, 0), bytes.data(), body));
    for (size_t i = 0; i < kChecksumBytes; ++i)
      bytes[body + i] = static_cast<uint8_t>(crc >> (8 * i));
  }
  accept_or_reject([&] {
    // As the trainer decodes: into a blob of the package's shape (which the memory cap bounds).
    const ParsedPackage parsed = read_package("fuzz package", bytes.data(), bytes.size());
    Blob weights(parsed.header.shape);
    decode_payload("fuzz package", parsed, weights.mutable_cpu_data());
  });
}

void lists(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("fuzz_list.txt", as_text(data, size));
  accept_or_reject([&] { read_image_list(path); });
  accept_or_reject([&] { read_hdf5_source_list(path); });
}

}  // namespace fuzz
}  // namespace caffe
