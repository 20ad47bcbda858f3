// Net upgrades: V1 layers to the current LayerParameter, the net-level input fields to an Input
// layer, the legacy transform fields of data layers to transform_param, and the driver that runs
// them in order and warns.  (V0 -> V1 is in net_upgrade_v0.cpp.)
#include "caffe/core/net_upgrade.hpp"

#include <glog/logging.h>

#include <algorithm>

#include "caffe/core/common.hpp"
#include "caffe/core/net_rewrite.hpp"

namespace caffe {
namespace {

using google::protobuf::FieldDescriptor;

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : separator) + part;
  return text;
}

// ---- V1 -> current ----

// Copies every set V1 parameter message (convolution_param, transform_param, ...) to the field of
// the same name in LayerParameter: the schema gives both the same names and message types.
void copy_parameter_messages(const V1LayerParameter& v1, LayerParameter* layer) {
  const auto* v1_reflection = v1.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  v1_reflection->ListFields(v1, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->is_repeated() || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->number() == V1LayerParameter::kLayerFieldNumber) continue;  // V0, upgraded before
    const FieldDescriptor* target = LayerParameter::descriptor()->FindFieldByName(field->name());
    CHECK(target != nullptr && target->message_type() == field->message_type())
        << "V1LayerParameter." << field->name() << " has no LayerParameter counterpart";
    layer->GetReflection()
        ->MutableMessage(layer, target)
        ->CopyFrom(v1_reflection->GetMessage(v1, field));
  }
}

// V1 kept the settings of the i-th parameter blob in four parallel lists; ParamSpec i holds them.
void copy_param_specs(const V1LayerParameter& v1, LayerParameter* layer) {
  const int count = std::max(
      {v1.param_size(), v1.blob_share_mode_size(), v1.blobs_lr_size(), v1.weight_decay_size()});
  for (int i = 0; i < count; ++i) {
    ParamSpec* spec = layer->add_param();
    if (i < v1.param_size()) spec->set_name(v1.param(i));
    if (i < v1.blob_share_mode_size()) {
      spec->set_share_mode(static_cast<ParamSpec::DimCheckMode>(v1.blob_share_mode(i)));
    }
    if (i < v1.blobs_lr_size()) spec->set_lr_mult(v1.blobs_lr(i));
    if (i < v1.weight_decay_size()) spec->set_decay_mult(v1.weight_decay(i));
  }
}

// The layer's weights move (a model-zoo caffemodel holds hundreds of MB of them).
LayerParameter layer_from_v1(V1LayerParameter* v1) {
  if (!v1->has_type() || v1->type() == V1LayerParameter::NONE) {
    fail("V1 layer '", v1->name(), "' has no type");
  }
  LayerParameter layer;
  layer.set_name(v1->name());
  layer.set_type(v1_type_name(v1->type()));
  *layer.mutable_bottom() = v1->bottom();
  *layer.mutable_top() = v1->top();
  *layer.mutable_include() = v1->include();
  *layer.mutable_exclude() = v1->exclude();
  *layer.mutable_loss_weight() = v1->loss_weight();
  layer.mutable_blobs()->Swap(v1->mutable_blobs());
  copy_param_specs(*v1, &layer);
  copy_parameter_messages(*v1, &layer);
  return layer;
}

void upgrade_v1_layers(NetParameter* param) {
  if (param->layer_size() > 0) {
    fail(
        "the net has both `layer { ... }` (current) and `layers { ... }` (V1) entries; write "
        "every layer in one format");
  }
  for (V1LayerParameter& v1 : *param->mutable_layers()) *param->add_layer() = layer_from_v1(&v1);
  param->clear_layers();
}

// ---- legacy transform fields ----

// Data, ImageData and WindowData once held the transformation settings in their own parameter
// message; they belong in transform_param.
template <class Legacy>
void move_transform_fields(const std::string& layer, const char* legacy_name, Legacy* legacy,
                           TransformationParameter* transform) {
  const auto check_free = [&](bool taken, const char* field) {
    if (taken) {
      fail("layer '", layer, "' sets ", field, " both in ", legacy_name,
           " (the old place) and in transform_param; keep the one in transform_param");
    }
  };
  if (legacy->has_scale()) {
    check_free(transform->has_scale(), "scale");
    transform->set_scale(legacy->scale());
  }
  if (legacy->has_mean_file()) {
    check_free(transform->has_mean_file(), "mean_file");
    transform->set_mean_file(legacy->mean_file());
  }
  if (legacy->has_crop_size()) {
    check_free(transform->has_crop_size(), "crop_size");
    transform->set_crop_size(legacy->crop_size());
  }
  if (legacy->has_mirror()) {
    check_free(transform->has_mirror(), "mirror");
    transform->set_mirror(legacy->mirror());
  }
  legacy->clear_scale();
  legacy->clear_mean_file();
  legacy->clear_crop_size();
  legacy->clear_mirror();
}

template <class Legacy>
bool has_transform_fields(const Legacy& legacy) {
  return legacy.has_scale() || legacy.has_mean_file() || legacy.has_crop_size() ||
         legacy.has_mirror();
}

bool has_legacy_transform_fields(const LayerParameter& layer) {
  return has_transform_fields(layer.data_param()) ||
         has_transform_fields(layer.image_data_param()) ||
         has_transform_fields(layer.window_data_param());
}

// Returns the names of the layers whose fields moved.
std::vector<std::string> upgrade_transform_fields(NetParameter* param) {
  std::vector<std::string> upgraded;
  for (LayerParameter& layer : *param->mutable_layer()) {
    if (!has_legacy_transform_fields(layer)) continue;
    TransformationParameter* transform = layer.mutable_transform_param();
    if (layer.has_data_param()) {
      move_transform_fields(layer.name(), "data_param", layer.mutable_data_param(), transform);
    }
    if (layer.has_image_data_param()) {
      move_transform_fields(layer.name(), "image_data_param", layer.mutable_image_data_param(),
                            transform);
    }
    if (layer.has_window_data_param()) {
      move_transform_fields(layer.name(), "window_data_param", layer.mutable_window_data_param(),
                            transform);
    }
    upgraded.push_back("'" + layer.name() + "'");
  }
  return upgraded;
}

bool has_net_inputs(const NetParameter& param) {
  return param.input_size() > 0 || param.input_shape_size() > 0 || param.input_dim_size() > 0;
}

}  // namespace

std::string v1_type_name(V1LayerParameter::LayerType type) {
  using V1 = V1LayerParameter;
  // clang-format off
  switch (type) {
    case V1::ABSVAL: return "AbsVal";
    case V1::ACCURACY: return "Accuracy";
    case V1::ARGMAX: return "ArgMax";
    case V1::BNLL: return "BNLL";
    case V1::CONCAT: return "Concat";
    case V1::CONTRASTIVE_LOSS: return "ContrastiveLoss";
    case V1::CONVOLUTION: return "Convolution";
    case V1::DECONVOLUTION: return "Deconvolution";
    case V1::DATA: return "Data";
    case V1::DROPOUT: return "Dropout";
    case V1::DUMMY_DATA: return "DummyData";
    case V1::EUCLIDEAN_LOSS: return "EuclideanLoss";
    case V1::ELTWISE: return "Eltwise";
    case V1::EXP: return "Exp";
    case V1::FLATTEN: return "Flatten";
    case V1::HDF5_DATA: return "HDF5Data";
    case V1::HDF5_OUTPUT: return "HDF5Output";
    case V1::HINGE_LOSS: return "HingeLoss";
    case V1::IM2COL: return "Im2col";
    case V1::IMAGE_DATA: return "ImageData";
    case V1::INFOGAIN_LOSS: return "InfogainLoss";
    case V1::INNER_PRODUCT: return "InnerProduct";
    case V1::LRN: return "LRN";
    case V1::MEMORY_DATA: return "MemoryData";
    case V1::MULTINOMIAL_LOGISTIC_LOSS: return "MultinomialLogisticLoss";
    case V1::MVN: return "MVN";
    case V1::POOLING: return "Pooling";
    case V1::POWER: return "Power";
    case V1::RELU: return "ReLU";
    case V1::SIGMOID: return "Sigmoid";
    case V1::SIGMOID_CROSS_ENTROPY_LOSS: return "SigmoidCrossEntropyLoss";
    case V1::SILENCE: return "Silence";
    case V1::SOFTMAX: return "Softmax";
    case V1::SOFTMAX_LOSS: return "SoftmaxWithLoss";
    case V1::SPLIT: return "Split";
    case V1::SLICE: return "Slice";
    case V1::TANH: return "TanH";
    case V1::WINDOW_DATA: return "WindowData";
    case V1::THRESHOLD: return "Threshold";
    case V1::NONE: break;
  }
  // clang-format on
  fail("V1 layer type ", static_cast<int>(type), " has no current layer type");
}

bool net_needs_upgrade(const NetParameter& param) {
  return param.layers_size() > 0 || has_net_inputs(param) ||
         std::any_of(param.layer().begin(), param.layer().end(), has_legacy_transform_fields);
}

std::vector<std::string> upgrade_net(NetParameter* param) {
  std::vector<std::string> done;
  const bool has_v0 = std::any_of(param->layers().begin(), param->layers().end(),
                                  [](const V1LayerParameter& v1) { return v1.has_layer(); });
  if (has_v0) {
    upgrade_v0_layers(param);
    done.push_back("V0 layers (`layers { layer { type: \"conv\" ... } }`) to V1");
  }
  if (param->layers_size() > 0) {
    upgrade_v1_layers(param);
    done.push_back("V1 layers (`layers { type: ENUM }`) to `layer { type: \"Name\" }`");
  }
  if (has_net_inputs(*param)) {
    if (param->input_size() == 0) {
      fail("the net has input_dim / input_shape values but no `input` names");
    }
    *param = upgrade_net_inputs(*param);
    done.push_back("the net-level input / input_dim / input_shape fields to an Input layer");
  }
  const std::vector<std::string> moved = upgrade_transform_fields(param);
  if (!moved.empty()) {
    done.push_back("scale / mean_file / crop_size / mirror of data layer(s) " + join(moved, ", ") +
                   " to transform_param");
  }
  return done;
}

void upgrade_net_logged(NetParameter* param, const std::string& origin) {
  if (!net_needs_upgrade(*param)) return;
  std::vector<std::string> done;
  try {
    done = upgrade_net(param);
  } catch (const Error& error) {
    fail(origin, ": cannot upgrade this old-format net: ", error.what());
  }
  LOG(WARNING) << origin << " uses an old net format; upgraded " << join(done, "; ")
               << ". Save the upgraded net with upgrade_net_proto_text (or "
                  "upgrade_net_proto_binary for a caffemodel) to skip this step.";
}

}  // namespace caffe
