// Layer registry: maps a type string ("InnerProduct") to a factory.  Each layer's .cpp registers
// itself with REGISTER_LAYER, so adding a layer touches no central list.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "caffe/core/layer.hpp"

namespace caffe {

using LayerFactory = std::function<std::unique_ptr<Layer>(const LayerParameter&)>;

class LayerRegistry {
 public:
  static void Add(const std::string& type, LayerFactory factory);
  // Creates a layer of param.type().  A type that is not registered is an error listing the
  // registered ones: "layer 'x': type 'SPP' is not implemented" for a BVLC type, otherwise
  // "layer 'x' has unknown type 'Y'" with the closest registered name when one is near.
  static std::unique_ptr<Layer> Create(const LayerParameter& param);
  static bool Has(const std::string& type);
  static std::vector<std::string> Types();  // sorted
  // Every layer type BVLC Caffe provides (sorted), registered here or not.
  static const std::vector<std::string>& BvlcTypes();
};

struct LayerRegisterer {
  LayerRegisterer(const std::string& type, LayerFactory factory) {
    LayerRegistry::Add(type, std::move(factory));
  }
};

}  // namespace caffe

// REGISTER_LAYER("InnerProduct", InnerProductLayer);
#define REGISTER_LAYER(type_name, LayerClass)                                            \
  static const ::caffe::LayerRegisterer layer_registerer_##LayerClass(                   \
      type_name, [](const ::caffe::LayerParameter& param) -> std::unique_ptr<::caffe::Layer> { \
        return std::make_unique<LayerClass>(param);                                      \
      })
