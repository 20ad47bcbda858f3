#include "caffe/core/layer_registry.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "caffe/core/common.hpp"

namespace caffe {
namespace {
std::map<std::string, LayerFactory>& factories() {
  static std::map<std::string, LayerFactory> instance;
  return instance;
}
std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Levenshtein distance: the single-character insertions, deletions and substitutions that turn
// `a` into `b`.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// The registered type nearest to `type` (ignoring case), or "" when none is within a third of
// its length: a likely misspelling, not a different word.
std::string closest_type(const std::string& type, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = std::max<size_t>(1, type.size() / 3) + 1;
  for (const std::string& candidate : known) {
    const size_t distance = edit_distance(lowercase(type), lowercase(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

[[noreturn]] void fail_unregistered(const LayerParameter& param) {
  const std::string& type = param.type();
  if (type == "Python") {
    // The Python layer type is registered by the pycaffe extension when it is imported.
    fail("layer '", param.name(),
         "' has type 'Python': Python layers run only from pycaffe "
         "(import caffe); the caffe command-line tool cannot load them");
  }
  const std::vector<std::string> known = LayerRegistry::Types();
  const auto& bvlc = LayerRegistry::BvlcTypes();
  if (std::binary_search(bvlc.begin(), bvlc.end(), type)) {
    fail("layer '", param.name(), "': type '", type,
         "' is not implemented. Implemented types: ", join(known));
  }
  const std::string closest = closest_type(type, known);
  fail("layer '", param.name(), "' has unknown type '", type, "'",
       closest.empty() ? "" : " (did you mean '" + closest + "'?)", ". Known types: ", join(known));
}

}  // namespace

const std::vector<std::string>& LayerRegistry::BvlcTypes() {
  static const std::vector<std::string> types = [] {
    // clang-format off
    std::vector<std::string> names = {
        "AbsVal", "Accuracy", "ArgMax", "BatchNorm", "BatchReindex", "Bias", "BNLL", "Clip",
        "Concat", "ContrastiveLoss", "Convolution", "Crop", "Data", "Deconvolution", "Dropout",
        "DummyData", "Eltwise", "ELU", "Embed", "EuclideanLoss", "Exp", "Filter", "Flatten",
        "HDF5Data", "HDF5Output", "HingeLoss", "Im2col", "ImageData", "InfogainLoss",
        "InnerProduct", "Input", "Log", "LRN", "LSTM", "LSTMUnit", "MemoryData",
        "MultinomialLogisticLoss", "MVN", "Parameter", "Pooling", "Power", "PReLU", "Python",
        "Reduction", "ReLU", "Reshape", "RNN", "Scale", "Sigmoid", "SigmoidCrossEntropyLoss",
        "Silence", "Slice", "Softmax", "SoftmaxWithLoss", "Split", "SPP", "Swish", "TanH",
        "Threshold", "Tile", "WindowData"};
    // clang-format on
    std::sort(names.begin(), names.end());
    return names;
  }();
  return types;
}

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
  if (found == factories().end()) fail_unregistered(param);
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
