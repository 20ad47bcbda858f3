#include "caffe/core/layer_registry.hpp"

#include <map>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {
std::map<std::string, LayerFactory>& factories() {
  static std::map<std::string, LayerFactory> instance;
  return instance;
}
}  // namespace

void LayerRegistry::Add(const std::string& type, LayerFactory factory) {
  const bool inserted = factories().emplace(type, std::move(factory)).second;
  if (!inserted) fail("layer type '", type, "' is registered twice");
}

bool LayerRegistry::Has(const std::string& type) { return factories().count(type) > 0; }

std::vector<std::string> LayerRegistry::Types() {
  std::vector<std::string> types;
  for (const auto& entry : factories()) types.push_back(entry.first);
  return types;
}

std::unique_ptr<Layer> LayerRegistry::Create(const LayerParameter& param) {
  const auto found = factories().find(param.type());
  if (found == factories().end()) {
    if (param.type() == "Python") {
      // The Python layer type is registered by the pycaffe extension when it is imported.
      fail("layer '", param.name(), "' has type 'Python': Python layers run only from pycaffe "
           "(import caffe); the caffe command-line tool cannot load them");
    }
    std::string known;
    for (const std::string& type : Types()) known += (known.empty() ? "" : ", ") + type;
    fail("layer '", param.name(), "' has unknown type '", param.type(), "'. Known types: ", known);
  }
  try {
    return found->second(param);
  } catch (const Error& error) {
    // Constructors load the layer's `blobs` and may check parameters: say which layer failed.
    const std::string prefix = "layer '" + param.name() + "'";
    if (std::string(error.what()).rfind(prefix, 0) == 0) throw;
    fail(prefix, " (", param.type(), "): ", error.what());
  }
}

}  // namespace caffe
