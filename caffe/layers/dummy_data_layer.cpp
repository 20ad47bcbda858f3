#include "caffe/layers/dummy_data_layer.hpp"

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"

namespace caffe {
namespace {

// Checks that a repeated field gives one value for all tops or one per top.
void check_once_or_per_top(int given, int tops, const char* field) {
  if (given != 1 && given != tops) {
    fail("has ", tops, " top(s) but ", given, " ", field, " value(s); give one for all tops or ",
         "one per top");
  }
}

// The shape of top `t` from `shape` or the legacy 4-d fields.
BlobShape top_shape(const DummyDataParameter& param, int t, int tops) {
  const bool legacy =
      param.num_size() + param.channels_size() + param.height_size() + param.width_size() > 0;
  if (param.shape_size() > 0 && legacy) {
    fail("give either `shape` or the legacy num/channels/height/width, not both");
  }
  if (!legacy) {
    if (param.shape_size() == 0) fail("needs a `shape` (or the legacy num/channels/height/width)");
    check_once_or_per_top(param.shape_size(), tops, "shape");
    return param.shape(param.shape_size() == 1 ? 0 : t);
  }
  const auto dim = [&](const google::protobuf::RepeatedField<uint32_t>& values, const char* field) {
    check_once_or_per_top(values.size(), tops, field);
    return static_cast<int64_t>(values.Get(values.size() == 1 ? 0 : t));
  };
  BlobShape shape;
  shape.add_dim(dim(param.num(), "num"));
  shape.add_dim(dim(param.channels(), "channels"));
  shape.add_dim(dim(param.height(), "height"));
  shape.add_dim(dim(param.width(), "width"));
  return shape;
}

// The filler of top `t`: none given means constant 0.
FillerParameter top_filler(const DummyDataParameter& param, int t, int tops) {
  const int given = param.data_filler_size();
  if (given == 0) {
    FillerParameter zero;
    zero.set_type("constant");
    zero.set_value(0.0f);
    return zero;
  }
  check_once_or_per_top(given, tops, "data_filler");
  return param.data_filler(given == 1 ? 0 : t);
}

}  // namespace

void DummyDataLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& top) {
  const DummyDataParameter& param = layer_param_.dummy_data_param();
  const int tops = static_cast<int>(top.size());
  fillers_.clear();
  for (int t = 0; t < tops; ++t) {
    top[t]->Reshape(top_shape(param, t, tops));
    fillers_.push_back(top_filler(param, t, tops));
    fill_blob(fillers_[t], top[t], filler_stream(name(), t));
  }
}

void DummyDataLayer::Forward_cpu(const BlobVec& /*bottom*/, const BlobVec& top) {
  for (size_t t = 0; t < top.size(); ++t) {
    // Constant tops keep their setup values; random ones draw anew, keyed by the forward pass.
    if (fillers_[t].type() == "constant") continue;
    fill_blob(fillers_[t], top[t], hash_combine(step_key(), t));
  }
}

REGISTER_LAYER("DummyData", DummyDataLayer);

}  // namespace caffe
