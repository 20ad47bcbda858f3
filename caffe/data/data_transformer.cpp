#include "caffe/data/data_transformer.hpp"

#include <algorithm>

#include "caffe/core/blob.hpp"
#include "caffe/core/common.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

// One output row: (in - mean) * scale, read left to right or mirrored.  `mean_row` is null
// when a single per-channel mean applies.  Branches stay outside the element loops.
template <typename Pixel>
void transform_row(const Pixel* in, const float* mean_row, float channel_mean, float scale,
                   int width, bool mirror, float* out) {
  if (mean_row) {
    if (mirror) {
      for (int x = 0; x < width; ++x) {
        out[width - 1 - x] = (static_cast<float>(in[x]) - mean_row[x]) * scale;
      }
    } else {
      for (int x = 0; x < width; ++x) out[x] = (static_cast<float>(in[x]) - mean_row[x]) * scale;
    }
  } else if (mirror) {
    for (int x = 0; x < width; ++x) {
      out[width - 1 - x] = (static_cast<float>(in[x]) - channel_mean) * scale;
    }
  } else {
    for (int x = 0; x < width; ++x) out[x] = (static_cast<float>(in[x]) - channel_mean) * scale;
  }
}

// Offset in [0, range] from a uniform draw in [0, 1).
int offset_from(float uniform, int range) {
  return std::min(range, static_cast<int>(uniform * static_cast<float>(range + 1)));
}

}  // namespace

void check_datum(const Datum& datum, int channels, int height, int width) {
  if (datum.encoded()) {
    fail("datum is encoded (JPEG or PNG bytes); decode it first (decode_datum)");
  }
  if (datum.channels() != channels || datum.height() != height || datum.width() != width) {
    fail("datum is ", datum.channels(), "x", datum.height(), "x", datum.width(),
         " (channels x height x width), expected ", channels, "x", height, "x", width);
  }
  const size_t expected = static_cast<size_t>(channels) * height * width;
  if (!datum.data().empty()) {
    if (datum.data().size() != expected) {
      fail("datum has ", datum.data().size(), " bytes of data for a ", channels, "x", height, "x",
           width, " datum (", expected, " expected)");
    }
  } else if (static_cast<size_t>(datum.float_data_size()) != expected) {
    fail("datum has ", datum.float_data_size(), " float_data values for a ", channels, "x", height,
         "x", width, " datum (", expected, " expected)");
  }
}

DataTransformer::DataTransformer(const TransformationParameter& param, Phase phase)
    : param_(param), phase_(phase) {
  if (param_.has_mean_file() && param_.mean_value_size() > 0) {
    fail("transform_param sets both mean_file and mean_value; use one");
  }
}

void DataTransformer::SetDatumShape(int channels, int height, int width) {
  if (channels <= 0 || height <= 0 || width <= 0) {
    fail("datum shape ", channels, "x", height, "x", width, " has an empty dimension");
  }
  channels_ = channels;
  height_ = height;
  width_ = width;
  const int crop = static_cast<int>(param_.crop_size());
  if (crop > 0 && (crop > height || crop > width)) {
    fail("transform_param crop_size ", crop, " is larger than the ", height, "x", width, " datums");
  }
  out_height_ = crop > 0 ? crop : height;
  out_width_ = crop > 0 ? crop : width;
  LoadMean();
}

void DataTransformer::LoadMean() {
  mean_image_.clear();
  channel_means_.assign(channels_, 0.0f);
  if (param_.mean_value_size() > 0) {
    const int values = param_.mean_value_size();
    if (values != 1 && values != channels_) {
      fail("transform_param has ", values, " mean_value(s) for ", channels_,
           "-channel data; give one, or one per channel");
    }
    for (int c = 0; c < channels_; ++c) channel_means_[c] = param_.mean_value(values == 1 ? 0 : c);
  }
  if (!param_.has_mean_file()) return;
  BlobProto proto;
  read_proto_from_binary_file(param_.mean_file(), &proto);
  std::vector<int> shape = proto_shape(proto);
  if (shape.size() == 4 && shape[0] == 1) shape.erase(shape.begin());
  if (shape != std::vector<int>{channels_, height_, width_}) {
    fail("mean_file '", param_.mean_file(), "' has shape ", shape_string(proto_shape(proto)),
         " but the datums are ", channels_, "x", height_, "x", width_);
  }
  if (proto.data_size() > 0) {
    mean_image_.assign(proto.data().begin(), proto.data().end());
  } else {
    mean_image_.assign(proto.double_data().begin(), proto.double_data().end());
  }
  if (static_cast<int>(mean_image_.size()) != channels_ * height_ * width_) {
    fail("mean_file '", param_.mean_file(), "' holds ", mean_image_.size(), " values for shape ",
         shape_string(proto_shape(proto)));
  }
}

std::vector<int> DataTransformer::output_shape() const {
  return {channels_, out_height_, out_width_};
}

int DataTransformer::output_count() const { return channels_ * out_height_ * out_width_; }

DataTransformer::Placement DataTransformer::PlacementFor(uint64_t key) const {
  Placement placement;
  const int range_y = height_ - out_height_;
  const int range_x = width_ - out_width_;
  if (phase_ != TRAIN) {
    placement.dy = range_y / 2;
    placement.dx = range_x / 2;
    return placement;
  }
  placement.dy = offset_from(uniform_at(key, 0), range_y);
  placement.dx = offset_from(uniform_at(key, 1), range_x);
  placement.mirror = param_.mirror() && uniform_at(key, 2) < 0.5f;
  return placement;
}

template <typename Pixel>
void DataTransformer::TransformPixels(const Pixel* in, const Placement& placement,
                                      float* out) const {
  const float scale = param_.scale();
  for (int c = 0; c < channels_; ++c) {
    for (int y = 0; y < out_height_; ++y) {
      const size_t source =
          (static_cast<size_t>(c) * height_ + y + placement.dy) * width_ + placement.dx;
      const float* mean_row = mean_image_.empty() ? nullptr : mean_image_.data() + source;
      transform_row(in + source, mean_row, channel_means_[c], scale, out_width_, placement.mirror,
                    out + (static_cast<size_t>(c) * out_height_ + y) * out_width_);
    }
  }
}

void DataTransformer::Transform(const Datum& datum, uint64_t key, float* out) const {
  check_datum(datum, channels_, height_, width_);
  const Placement placement = PlacementFor(key);
  if (!datum.data().empty()) {
    TransformPixels(reinterpret_cast<const uint8_t*>(datum.data().data()), placement, out);
  } else {
    TransformPixels(datum.float_data().data(), placement, out);
  }
}

}  // namespace caffe
