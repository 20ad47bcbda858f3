// Net upgrades: old NetParameter forms rewritten into the current one, as BVLC Caffe's loaders do,
// so that old prototxt files and model-zoo caffemodels load unchanged.
//
//   V0 layers  `layers { layer { name type: "conv" kernelsize ... } bottom top }`
//      -> V1   `layers { type: CONVOLUTION convolution_param { kernel_size ... } }`
//      -> current `layer { type: "Convolution" ... }` (blobs_lr / weight_decay -> param)
//   net-level `input:` / `input_dim:` / `input_shape:`          -> an Input layer
//   data_param / image_data_param / window_data_param scale, mean_file, crop_size, mirror
//                                                               -> transform_param
//
// The loaders (read_net_param, Net, Net::CopyTrainedLayersFrom, pycaffe's io.load_net_param) call
// upgrade_net_logged, which warns once per net it changed; the upgrade_net_proto_* tools call
// upgrade_net and print what it did.
#pragma once

#include <string>
#include <vector>

#include "proto/caffe.pb.h"

namespace caffe {

// Whether `param` uses any old form listed above.
bool net_needs_upgrade(const NetParameter& param);

// Rewrites every old form of `param` in place and returns one line per kind of upgrade done
// (empty when the net was current).  An old form that cannot be upgraded (an unknown V0 type, a
// V0 field the layer type cannot take, a net mixing `layer` and `layers`) is a caffe::Error
// naming the layer.
std::vector<std::string> upgrade_net(NetParameter* param);

// upgrade_net, with a glog warning naming `origin` (a file, or "net 'name'") and what was
// upgraded when anything was; errors are prefixed with `origin`.
void upgrade_net_logged(NetParameter* param, const std::string& origin);

// The current layer type string of a V1 enum value ("Convolution" for CONVOLUTION).
std::string v1_type_name(V1LayerParameter::LayerType type);

// V0 -> V1 (net_upgrade_v0.cpp): every V1 layer that wraps a V0 `layer` becomes a plain V1
// layer; V0 "padding" layers are folded into the pad of the conv layers they feed.
void upgrade_v0_layers(NetParameter* param);

}  // namespace caffe
