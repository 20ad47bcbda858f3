// V0 -> V1: the oldest net format kept every setting as a field of the layer itself
// (`layers { layer { name: "conv1" type: "conv" num_output: 96 kernelsize: 11 } bottom top }`).
// Each V0 type has a V1 type and a set of V0 fields it takes; a field outside that set is an error
// rather than a setting silently dropped.
#include <algorithm>
#include <map>
#include <set>
#include <type_traits>

#include "caffe/core/common.hpp"
#include "caffe/core/net_upgrade.hpp"

namespace caffe {
namespace {

using google::protobuf::FieldDescriptor;
using V1 = V1LayerParameter;

struct V0Type {
  const char* name;  // the V0 type string
  V1::LayerType type;
  std::set<std::string> fields;  // V0 fields it takes besides name, type and the blob lists
};

const std::vector<V0Type>& v0_types() {
  static const std::set<std::string> kTransform = {"scale", "meanfile", "cropsize", "mirror"};
  const auto with_transform = [](std::set<std::string> fields) {
    fields.insert(kTransform.begin(), kTransform.end());
    return fields;
  };
  static const std::vector<V0Type> types = {
      {"conv",
       V1::CONVOLUTION,
       {"num_output", "biasterm", "weight_filler", "bias_filler", "pad", "kernelsize", "group",
        "stride"}},
      {"innerproduct",
       V1::INNER_PRODUCT,
       {"num_output", "biasterm", "weight_filler", "bias_filler"}},
      {"pool", V1::POOLING, {"pool", "kernelsize", "stride", "pad"}},
      {"im2col", V1::IM2COL, {"kernelsize", "stride", "pad"}},
      {"lrn", V1::LRN, {"local_size", "alpha", "beta", "k"}},
      {"dropout", V1::DROPOUT, {"dropout_ratio"}},
      {"concat", V1::CONCAT, {"concat_dim"}},
      {"data", V1::DATA, with_transform({"source", "batchsize", "rand_skip"})},
      {"images", V1::IMAGE_DATA,
       with_transform(
           {"source", "batchsize", "rand_skip", "shuffle_images", "new_height", "new_width"})},
      {"window_data", V1::WINDOW_DATA,
       with_transform({"source", "batchsize", "det_fg_threshold", "det_bg_threshold",
                       "det_fg_fraction", "det_context_pad", "det_crop_mode"})},
      {"hdf5_data", V1::HDF5_DATA, {"source", "batchsize"}},
      {"hdf5_output", V1::HDF5_OUTPUT, {"hdf5_output_param"}},
      {"infogain_loss", V1::INFOGAIN_LOSS, {"source"}},
      {"relu", V1::RELU, {}},
      {"tanh", V1::TANH, {}},
      {"sigmoid", V1::SIGMOID, {}},
      {"bnll", V1::BNLL, {}},
      {"softmax", V1::SOFTMAX, {}},
      {"softmax_loss", V1::SOFTMAX_LOSS, {}},
      {"split", V1::SPLIT, {}},
      {"flatten", V1::FLATTEN, {}},
      {"accuracy", V1::ACCURACY, {}},
      {"euclidean_loss", V1::EUCLIDEAN_LOSS, {}},
      {"multinomial_logistic_loss", V1::MULTINOMIAL_LOGISTIC_LOSS, {}},
  };
  return types;
}

const char* const kPaddingType = "padding";

std::string v0_type_names() {
  std::string names = kPaddingType;
  for (const V0Type& type : v0_types()) names += std::string(", ") + type.name;
  return names;
}

// Errors on any set V0 field that `allowed` (or every type: name, type, the blob lists) leaves out.
void check_v0_fields(const V0LayerParameter& v0, const std::set<std::string>& allowed) {
  static const std::set<std::string> kEveryType = {"name", "type", "blobs", "blobs_lr",
                                                   "weight_decay"};
  std::vector<const FieldDescriptor*> fields;
  v0.GetReflection()->ListFields(v0, &fields);
  for (const FieldDescriptor* field : fields) {
    if (kEveryType.count(field->name()) || allowed.count(field->name())) continue;
    fail("V0 layer '", v0.name(), "' (type '", v0.type(), "') sets ", field->name(), ", which a ",
         v0.type(), " layer cannot take");
  }
}

// The V1 wrapper of a V0 layer carries only the layer and its bottoms and tops.
void check_wrapper(const V1LayerParameter& wrapper) {
  std::vector<const FieldDescriptor*> fields;
  wrapper.GetReflection()->ListFields(wrapper, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->name() == "layer" || field->name() == "bottom" || field->name() == "top") continue;
    fail("V0 layer '", wrapper.layer().name(), "' also sets the V1 field ", field->name(),
         "; write the layer in one format");
  }
}

// The kernel geometry fields, shared by conv, pool and im2col.
// (repeated in ConvolutionParameter, single values in PoolingParameter).
template <class Geometry>
void copy_v0_geometry(const V0LayerParameter& v0, Geometry* geometry) {
  if constexpr (std::is_same_v<Geometry, ConvolutionParameter>) {
    if (v0.has_pad()) geometry->add_pad(v0.pad());
    if (v0.has_kernelsize()) geometry->add_kernel_size(v0.kernelsize());
    if (v0.has_stride()) geometry->add_stride(v0.stride());
  } else {
    if (v0.has_pad()) geometry->set_pad(v0.pad());
    if (v0.has_kernelsize()) geometry->set_kernel_size(v0.kernelsize());
    if (v0.has_stride()) geometry->set_stride(v0.stride());
  }
}

// The learned-layer fields shared by conv and innerproduct.
template <class Learned>
void copy_v0_learned(const V0LayerParameter& v0, Learned* learned) {
  if (v0.has_num_output()) learned->set_num_output(v0.num_output());
  if (v0.has_biasterm()) learned->set_bias_term(v0.biasterm());
  if (v0.has_weight_filler()) *learned->mutable_weight_filler() = v0.weight_filler();
  if (v0.has_bias_filler()) *learned->mutable_bias_filler() = v0.bias_filler();
}

void copy_v0_transform(const V0LayerParameter& v0, TransformationParameter* transform) {
  if (v0.has_scale()) transform->set_scale(v0.scale());
  if (v0.has_meanfile()) transform->set_mean_file(v0.meanfile());
  if (v0.has_cropsize()) transform->set_crop_size(v0.cropsize());
  if (v0.has_mirror()) transform->set_mirror(v0.mirror());
}

// The source / batch size pair every V0 data layer has.
template <class Source>
void copy_v0_source(const V0LayerParameter& v0, Source* source) {
  if (v0.has_source()) source->set_source(v0.source());
  if (v0.has_batchsize()) source->set_batch_size(v0.batchsize());
}

// Writes the V0 settings (already checked against the type's field set) into `v1`'s messages.
void copy_v0_settings(const V0LayerParameter& v0, V1LayerParameter* v1) {
  switch (v1->type()) {
    case V1::CONVOLUTION:
      copy_v0_learned(v0, v1->mutable_convolution_param());
      if (v0.has_group()) v1->mutable_convolution_param()->set_group(v0.group());
      copy_v0_geometry(v0, v1->mutable_convolution_param());
      break;
    case V1::IM2COL:
      copy_v0_geometry(v0, v1->mutable_convolution_param());
      break;
    case V1::INNER_PRODUCT:
      copy_v0_learned(v0, v1->mutable_inner_product_param());
      break;
    case V1::POOLING:
      if (v0.has_pool()) {
        v1->mutable_pooling_param()->set_pool(static_cast<PoolingParameter::PoolMethod>(v0.pool()));
      }
      copy_v0_geometry(v0, v1->mutable_pooling_param());
      break;
    case V1::LRN: {
      LRNParameter* lrn = v1->mutable_lrn_param();
      if (v0.has_local_size()) lrn->set_local_size(v0.local_size());
      if (v0.has_alpha()) lrn->set_alpha(v0.alpha());
      if (v0.has_beta()) lrn->set_beta(v0.beta());
      if (v0.has_k()) lrn->set_k(v0.k());
      break;
    }
    case V1::DROPOUT:
      if (v0.has_dropout_ratio())
        v1->mutable_dropout_param()->set_dropout_ratio(v0.dropout_ratio());
      break;
    case V1::CONCAT:
      if (v0.has_concat_dim()) v1->mutable_concat_param()->set_concat_dim(v0.concat_dim());
      break;
    case V1::DATA:
      copy_v0_source(v0, v1->mutable_data_param());
      if (v0.has_rand_skip()) v1->mutable_data_param()->set_rand_skip(v0.rand_skip());
      break;
    case V1::IMAGE_DATA: {
      ImageDataParameter* images = v1->mutable_image_data_param();
      copy_v0_source(v0, images);
      if (v0.has_rand_skip()) images->set_rand_skip(v0.rand_skip());
      if (v0.has_shuffle_images()) images->set_shuffle(v0.shuffle_images());
      if (v0.has_new_height()) images->set_new_height(static_cast<uint32_t>(v0.new_height()));
      if (v0.has_new_width()) images->set_new_width(static_cast<uint32_t>(v0.new_width()));
      break;
    }
    case V1::WINDOW_DATA: {
      WindowDataParameter* windows = v1->mutable_window_data_param();
      copy_v0_source(v0, windows);
      if (v0.has_det_fg_threshold()) windows->set_fg_threshold(v0.det_fg_threshold());
      if (v0.has_det_bg_threshold()) windows->set_bg_threshold(v0.det_bg_threshold());
      if (v0.has_det_fg_fraction()) windows->set_fg_fraction(v0.det_fg_fraction());
      if (v0.has_det_context_pad()) windows->set_context_pad(v0.det_context_pad());
      if (v0.has_det_crop_mode()) windows->set_crop_mode(v0.det_crop_mode());
      break;
    }
    case V1::HDF5_DATA:
      copy_v0_source(v0, v1->mutable_hdf5_data_param());
      break;
    case V1::HDF5_OUTPUT:
      if (v0.has_hdf5_output_param()) *v1->mutable_hdf5_output_param() = v0.hdf5_output_param();
      break;
    case V1::INFOGAIN_LOSS:
      if (v0.has_source()) v1->mutable_infogain_loss_param()->set_source(v0.source());
      break;
    default:
      break;  // the type takes no settings
  }
  const bool is_data =
      v1->type() == V1::DATA || v1->type() == V1::IMAGE_DATA || v1->type() == V1::WINDOW_DATA;
  if (is_data) copy_v0_transform(v0, v1->mutable_transform_param());
}

const V0Type& find_v0_type(const V0LayerParameter& v0) {
  for (const V0Type& type : v0_types()) {
    if (v0.type() == type.name) return type;
  }
  fail("V0 layer '", v0.name(), "' has unknown type '", v0.type(), "'; the V0 types are ",
       v0_type_names());
}

// A V1 layer from a V1 wrapper holding a V0 layer; the weights move.
V1LayerParameter v1_from_v0(V1LayerParameter* wrapper) {
  check_wrapper(*wrapper);
  V0LayerParameter& v0 = *wrapper->mutable_layer();
  const V0Type& type = find_v0_type(v0);
  check_v0_fields(v0, type.fields);
  V1LayerParameter v1;
  v1.set_name(v0.name());
  v1.set_type(type.type);
  *v1.mutable_bottom() = wrapper->bottom();
  *v1.mutable_top() = wrapper->top();
  v1.mutable_blobs()->Swap(v0.mutable_blobs());
  *v1.mutable_blobs_lr() = v0.blobs_lr();
  *v1.mutable_weight_decay() = v0.weight_decay();
  copy_v0_settings(v0, &v1);
  return v1;
}

// A V0 padding layer, to be folded into the conv layers that read its top.
struct Padding {
  std::string name;
  std::string bottom;
  uint32_t pad;
};

Padding read_padding(const V1LayerParameter& wrapper) {
  check_wrapper(wrapper);
  const V0LayerParameter& v0 = wrapper.layer();
  check_v0_fields(v0, {"pad"});
  if (wrapper.bottom_size() != 1 || wrapper.top_size() != 1) {
    fail("V0 padding layer '", v0.name(), "' has ", wrapper.bottom_size(), " bottom(s) and ",
         wrapper.top_size(), " top(s); it needs one of each");
  }
  return {v0.name(), wrapper.bottom(0), v0.pad()};
}

// The conv layer reads the padding layer's input and pads it itself.
void fold_padding(const Padding& padding, int bottom_index, V1LayerParameter* v1) {
  if (v1->type() != V1::CONVOLUTION) {
    fail("V0 padding layer '", padding.name, "' feeds layer '", v1->name(), "' (",
         v1_type_name(v1->type()), "); a padding layer can only feed conv layers");
  }
  ConvolutionParameter* conv = v1->mutable_convolution_param();
  const bool own_pad =
      std::any_of(conv->pad().begin(), conv->pad().end(), [](uint32_t pad) { return pad != 0; });
  if (own_pad) {
    fail("conv layer '", v1->name(), "' sets its own pad and also reads padding layer '",
         padding.name, "'; give the padding in one place");
  }
  conv->clear_pad();
  conv->add_pad(padding.pad);
  v1->set_bottom(bottom_index, padding.bottom);
}

}  // namespace

void upgrade_v0_layers(NetParameter* param) {
  std::map<std::string, Padding> padded_blobs;  // padding top -> the padding layer
  google::protobuf::RepeatedPtrField<V1LayerParameter> upgraded;
  for (V1LayerParameter& wrapper : *param->mutable_layers()) {
    if (wrapper.has_layer() && wrapper.layer().type() == kPaddingType) {
      const Padding padding = read_padding(wrapper);
      padded_blobs.insert_or_assign(wrapper.top(0), padding);
      continue;
    }
    V1LayerParameter v1 = wrapper.has_layer() ? v1_from_v0(&wrapper) : std::move(wrapper);
    for (int b = 0; b < v1.bottom_size(); ++b) {
      const auto padded = padded_blobs.find(v1.bottom(b));
      if (padded != padded_blobs.end()) fold_padding(padded->second, b, &v1);
    }
    // A later producer of the same blob name is no longer the padding's output.
    for (const std::string& top : v1.top()) padded_blobs.erase(top);
    *upgraded.Add() = std::move(v1);
  }
  param->mutable_layers()->Swap(&upgraded);
}

}  // namespace caffe
