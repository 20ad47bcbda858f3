// Net and Layer, with the pycaffe API: blobs/params/layers dictionaries, forward and backward
// with keyword inputs, weight loading, saving and sharing.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "bindings.hpp"
#include "caffe/core/layer.hpp"

namespace caffe::python {
namespace {

using Path = std::filesystem::path;
using Names = std::vector<std::string>;

// A layer seen from Python.  It holds the Net, so the layer stays valid while Python uses it.
struct LayerRef {
  std::shared_ptr<Net> net;
  int index;
  Layer& layer() const { return *net->layers()[index]; }
};

py::object ordered_dict() { return py::module_::import("collections").attr("OrderedDict")(); }

std::string joined(const Names& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// Indices in net.blobs() of `blobs` (pointers into the net); in-place tops share their
// bottom's index.
std::vector<int> blob_ids_of(const Net& net, const BlobVec& blobs) {
  std::unordered_map<const Blob*, int> id_of;
  for (size_t i = 0; i < net.blobs().size(); ++i) id_of[net.blobs()[i].get()] = static_cast<int>(i);
  std::vector<int> ids;
  for (const Blob* blob : blobs) ids.push_back(id_of.at(blob));
  return ids;
}

Names blob_names_of(const Net& net, const BlobVec& blobs) {
  Names names;
  for (const int id : blob_ids_of(net, blobs)) names.push_back(net.blob_names()[id]);
  return names;
}

int layer_index(const Net& net, const std::string& name, const char* argument) {
  const Names& names = net.layer_names();
  const auto found = std::find(names.begin(), names.end(), name);
  if (found == names.end()) {
    throw py::value_error(std::string(argument) + "='" + name + "' is not a layer of net '" +
                          net.name() + "'. Layers: " + joined(names));
  }
  return static_cast<int>(found - names.begin());
}

Blob& named_blob(const Net& net, const std::string& name, const std::string& what) {
  if (!net.has_blob(name)) {
    throw py::value_error(what + " '" + name + "' is not a blob of net '" + net.name() +
                          "'. Blobs: " + joined(net.blob_names()));
  }
  return *net.blob_by_name(name);
}

// A float32 array holding a copy of the blob's values or gradients.  It reads through the const
// accessors so that, in GPU mode, the device copy stays current (no re-upload on the next pass).
py::array_t<float> copy_of(const Blob& blob, bool diff) {
  py::array_t<float> copy(std::vector<py::ssize_t>(blob.shape().begin(), blob.shape().end()));
  std::memcpy(copy.mutable_data(), diff ? blob.cpu_diff() : blob.cpu_data(),
              sizeof(float) * blob.count());
  return copy;
}

// {name: copy} for `names` followed by `extra`, each once, in that order.
py::dict copies_of(const Net& net, Names names, const std::optional<Names>& extra, bool diff,
                   const char* argument) {
  if (extra) names.insert(names.end(), extra->begin(), extra->end());
  py::dict result;
  for (const std::string& name : names) {
    if (result.contains(name)) continue;
    result[py::str(name)] = copy_of(named_blob(net, name, argument), diff);
  }
  return result;
}

void assign_named(const Net& net, const py::kwargs& values, bool diff, const char* call) {
  for (const auto& [key, value] : values) {
    const std::string name = key.cast<std::string>();
    const std::string what = std::string(call) + ": " + (diff ? "diff" : "input");
    Blob& blob = named_blob(net, name, what);
    if (diff) {
      assign_blob_diff(blob, value, what + " '" + name + "'");
    } else {
      assign_blob_data(blob, value, what + " '" + name + "'");
    }
  }
}

// Whether `path` is an HDF5 file (it starts with the HDF5 signature), as save_hdf5 writes.
bool is_hdf5_file(const Path& path) {
  static constexpr char kSignature[] = "\x89HDF\r\n\x1a\n";
  char head[sizeof(kSignature) - 1] = {};
  std::ifstream file(path, std::ios::binary);
  return file.read(head, sizeof(head)) && std::memcmp(head, kSignature, sizeof(head)) == 0;
}

// Loads weights from a binary .caffemodel, or from an HDF5 file in BVLC's save_hdf5 layout
// (read by caffe.net_hdf5 with h5py).
void copy_weights(const std::shared_ptr<Net>& net, const Path& weights) {
  if (is_hdf5_file(weights)) {
    py::module_::import("caffe.net_hdf5").attr("load_hdf5")(py::cast(net), weights);
    return;
  }
  py::gil_scoped_release release;
  net->CopyTrainedLayersFrom(weights.string());
}

std::shared_ptr<Net> load_net(const Path& network_file, int phase, int level,
                              const std::optional<Names>& stages,
                              const std::optional<Path>& weights) {
  const Phase net_phase = phase_from_int(phase);
  std::shared_ptr<Net> net;
  {
    py::gil_scoped_release release;
    net = std::make_shared<Net>(network_file.string(), net_phase, level, stages.value_or(Names()));
  }
  if (weights) copy_weights(net, *weights);
  return net;
}

int checked_layer_index(const Net& net, int index, const char* argument) {
  const int num_layers = static_cast<int>(net.layers().size());
  if (index < 0 || index >= num_layers) {
    throw py::index_error(std::string(argument) + "=" + std::to_string(index) +
                          " is not a layer index of net '" + net.name() + "' (it has " +
                          std::to_string(num_layers) + " layers)");
  }
  return index;
}

// Runs layers first..last (indices, inclusive); returns the loss they computed.
float forward_range(Net& net, int first, int last) {
  if (first > last) throw py::value_error("forward: start layer comes after end layer");
  py::gil_scoped_release release;
  const float loss = net.ForwardFromTo(first, last);
  if (first == 0) {
    // A pass that ran the first (data) layers is a step, as in Net::Forward: advance the
    // forward counter so the next pass reads the next batch and draws fresh random masks.
    // A pass starting later runs with the current counter and leaves it alone, so splitting
    // a pass in two (end=X, then start=Y) keeps the data layers on consecutive batches.
    net.set_step(net.iteration(), net.forward_count() + 1);
  }
  return loss;
}

// Runs the backward pass of layers first down to last (indices, inclusive).
void backward_range(Net& net, int first, int last) {
  if (first < last) throw py::value_error("backward: start layer comes before end layer");
  py::gil_scoped_release release;
  net.BackwardFromTo(first, last);
}

py::dict forward(Net& net, const std::optional<Names>& blobs,
                 const std::optional<std::string>& start, const std::optional<std::string>& end,
                 const py::kwargs& inputs) {
  assign_named(net, inputs, /*diff=*/false, "forward()");
  const int num_layers = static_cast<int>(net.layers().size());
  const int first = start ? layer_index(net, *start, "start") : 0;
  const int last = end ? layer_index(net, *end, "end") : num_layers - 1;
  if (num_layers > 0) forward_range(net, first, last);
  const Names outputs = end ? blob_names_of(net, net.top_vecs()[last]) : net.output_blob_names();
  return copies_of(net, outputs, blobs, /*diff=*/false, "forward(): blobs entry");
}

py::dict backward(Net& net, const std::optional<Names>& diffs,
                  const std::optional<std::string>& start, const std::optional<std::string>& end,
                  const py::kwargs& top_diffs) {
  assign_named(net, top_diffs, /*diff=*/true, "backward()");
  const int num_layers = static_cast<int>(net.layers().size());
  const int first = start ? layer_index(net, *start, "start") : num_layers - 1;
  const int last = end ? layer_index(net, *end, "end") : 0;
  if (num_layers > 0) backward_range(net, first, last);
  const Names inputs = end ? blob_names_of(net, net.bottom_vecs()[last]) : net.input_blob_names();
  return copies_of(net, inputs, diffs, /*diff=*/true, "backward(): diffs entry");
}

// Re-sizes every layer's tops for the current input shapes (after input blobs were reshaped).
void reshape(Net& net) {
  for (size_t l = 0; l < net.layers().size(); ++l) {
    Layer& layer = *net.layers()[l];
    with_layer_context(layer, [&] { layer.Reshape(net.bottom_vecs()[l], net.top_vecs()[l]); });
  }
}

py::list layer_blobs(const Layer& layer) { return py::cast(layer.blobs()); }

py::object blobs_dict(const Net& net) {
  py::object blobs = ordered_dict();
  for (size_t i = 0; i < net.blobs().size(); ++i) {
    blobs[py::str(net.blob_names()[i])] = net.blobs()[i];
  }
  return blobs;
}

py::object params_dict(const Net& net) {
  py::object params = ordered_dict();
  for (size_t l = 0; l < net.layers().size(); ++l) {
    if (!net.layers()[l]->blobs().empty()) {
      params[py::str(net.layer_names()[l])] = layer_blobs(*net.layers()[l]);
    }
  }
  return params;
}

std::vector<LayerRef> layer_refs(const std::shared_ptr<Net>& net) {
  std::vector<LayerRef> layers;
  for (size_t l = 0; l < net->layers().size(); ++l) layers.push_back({net, static_cast<int>(l)});
  return layers;
}

py::object layer_dict(const std::shared_ptr<Net>& net) {
  py::object layers = ordered_dict();
  for (const LayerRef& layer : layer_refs(net)) {
    layers[py::str(net->layer_names()[layer.index])] = layer;
  }
  return layers;
}

// Loss weight of every blob (0 for blobs that are not a loss), in net order.
py::object blob_loss_weights(const Net& net) {
  std::unordered_map<const Blob*, float> weight_of;
  for (size_t l = 0; l < net.layers().size(); ++l) {
    for (size_t t = 0; t < net.top_vecs()[l].size(); ++t) {
      const float weight = net.layers()[l]->loss_weight(static_cast<int>(t));
      if (weight != 0.0f) weight_of[net.top_vecs()[l][t]] = weight;
    }
  }
  py::object weights = ordered_dict();
  for (size_t i = 0; i < net.blobs().size(); ++i) {
    const auto found = weight_of.find(net.blobs()[i].get());
    weights[py::str(net.blob_names()[i])] = found == weight_of.end() ? 0.0f : found->second;
  }
  return weights;
}

// {layer name: [blob names]} of each layer's tops or bottoms.
py::object layer_blob_names(const Net& net, const std::vector<BlobVec>& per_layer) {
  py::object names = ordered_dict();
  for (size_t l = 0; l < net.layers().size(); ++l) {
    names[py::str(net.layer_names()[l])] = blob_names_of(net, per_layer[l]);
  }
  return names;
}

void bind_net(py::module_& m) {
  py::class_<LayerRef>(m, "Layer", py::custom_type_setup(&refuse_uninitialised_access),
                       "A layer of a Net.")
      .def_property_readonly("type",
                             [](const LayerRef& ref) { return std::string(ref.layer().type()); })
      .def_property_readonly("name", [](const LayerRef& ref) { return ref.layer().name(); })
      .def_property_readonly(
          "blobs", [](const LayerRef& ref) { return layer_blobs(ref.layer()); },
          "The learnable parameter blobs (weights, bias, ...).")
      .def_property_readonly("phase", [](const LayerRef& ref) { return ref.layer().phase(); })
      .def_property_readonly(
          "density", [](const LayerRef& ref) { return ref.layer().GradientDensity(); },
          "Gradient sparsification (GradSparsify): the fraction of non-zeros in the bottom "
          "gradient of the last TRAIN backward.  None for other layers and before a backward.")
      .def("__repr__", [](py::handle self) {
        const LayerRef& ref = initialised<LayerRef>(self, "__repr__");
        return "<caffe.Layer '" + ref.layer().name() + "' (" + ref.layer().type() + ")>";
      });

  py::class_<Net, std::shared_ptr<Net>>(m, "Net",
                                        py::custom_type_setup(&refuse_uninitialised_access),
                                        "A network built from a prototxt for one phase.")
      .def(py::init(&load_net), py::arg("network_file"), py::arg("phase"), py::arg("level") = 0,
           py::arg("stages") = py::none(), py::arg("weights") = py::none(),
           "Net(network_file, phase, level=0, stages=None, weights=None): `weights` is a "
           ".caffemodel or an HDF5 file written by save_hdf5.")
      .def(py::init([](const Path& network_file, const Path& weights, int phase) {
             return load_net(network_file, phase, 0, std::nullopt, weights);
           }),
           py::arg("network_file"), py::arg("weights"), py::arg("phase"),
           "Net(network_file, weights, phase)")
      .def_property_readonly("name", &Net::name)
      .def_property_readonly("phase", &Net::phase)
      .def_property_readonly("blobs", &blobs_dict, "OrderedDict of every blob, in net order.")
      .def_property_readonly("params", &params_dict,
                             "OrderedDict layer name -> [param blobs], for layers with params.")
      .def_property_readonly("layers", &layer_refs)
      .def_property_readonly("layer_dict", &layer_dict)
      .def_property_readonly("inputs", &Net::input_blob_names)
      .def_property_readonly("outputs", &Net::output_blob_names)
      .def_property_readonly("blob_loss_weights", &blob_loss_weights)
      .def_property_readonly("top_names",
                             [](const Net& net) { return layer_blob_names(net, net.top_vecs()); })
      .def_property_readonly(
          "bottom_names", [](const Net& net) { return layer_blob_names(net, net.bottom_vecs()); })
      .def_property_readonly("_blob_names", &Net::blob_names)
      .def_property_readonly("_layer_names", &Net::layer_names)
      .def_property_readonly("_blobs", &Net::blobs, "Every blob, in net order.")
      .def_property_readonly(
          "_inputs", [](const Net& net) { return blob_ids_of(net, net.input_blobs()); },
          "Indices (into _blobs) of the input blobs.")
      .def_property_readonly(
          "_outputs", [](const Net& net) { return blob_ids_of(net, net.output_blobs()); },
          "Indices (into _blobs) of the output blobs.")
      .def(
          "_bottom_ids",
          [](const Net& net, int layer) {
            return blob_ids_of(net, net.bottom_vecs()[checked_layer_index(net, layer, "layer")]);
          },
          py::arg("layer"), "Indices (into _blobs) of the bottoms of layer `layer` (an index).")
      .def(
          "_top_ids",
          [](const Net& net, int layer) {
            return blob_ids_of(net, net.top_vecs()[checked_layer_index(net, layer, "layer")]);
          },
          py::arg("layer"), "Indices (into _blobs) of the tops of layer `layer` (an index).")
      .def(
          "_forward",
          [](Net& net, int start, int end) {
            return forward_range(net, checked_layer_index(net, start, "start"),
                                 checked_layer_index(net, end, "end"));
          },
          py::arg("start"), py::arg("end"),
          "_forward(start, end) -> loss: run layers start..end (indices, inclusive).")
      .def(
          "_backward",
          [](Net& net, int start, int end) {
            backward_range(net, checked_layer_index(net, start, "start"),
                           checked_layer_index(net, end, "end"));
          },
          py::arg("start"), py::arg("end"),
          "_backward(start, end): backward pass of layers start down to end (indices, "
          "inclusive).")
      .def("forward", &forward, py::arg("blobs") = py::none(), py::arg("start") = py::none(),
           py::arg("end") = py::none(),
           "forward(blobs=None, start=None, end=None, **inputs) -> {output: array}.\n"
           "Keyword arguments set blobs by name (shapes must match); runs layers start..end "
           "(names, inclusive) and returns copies of the outputs (of `end`'s tops when given) and "
           "of the blobs listed in `blobs`.")
      .def("backward", &backward, py::arg("diffs") = py::none(), py::arg("start") = py::none(),
           py::arg("end") = py::none(),
           "backward(diffs=None, start=None, end=None, **top_diffs) -> {input: diff array}.\n"
           "Keyword arguments set blob diffs by name; runs layers start..end backwards and returns "
           "copies of the input diffs (of `end`'s bottoms when given) and of the blobs in `diffs`.")
      .def("reshape", &reshape, "Resize every layer for the current input blob shapes.")
      .def("clear_param_diffs", &Net::ClearParamDiffs, "Zero the parameter gradients.")
      .def("copy_from", &copy_weights, py::arg("weights"),
           "Load weights from a .caffemodel or an HDF5 file written by save_hdf5 (layers "
           "matched by name).")
      .def(
          "save",
          [](const Net& net, const Path& path, bool write_diff) {
            py::gil_scoped_release release;
            net.Save(path.string(), write_diff);
          },
          py::arg("filename"), py::arg("write_diff") = false, "Write the weights as a .caffemodel.")
      .def("share_with", &Net::ShareTrainedLayersWith, py::arg("other"),
           "Use the other net's weights (shared memory) for the layers with the same names.")
      .def("__repr__", [](py::handle self) {
        const Net& net = initialised<Net>(self, "__repr__");
        return "<caffe.Net '" + net.name() + "' (" + Phase_Name(net.phase()) + "), " +
               std::to_string(net.layers().size()) + " layers>";
      });
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindNet, bind_net);

}  // namespace caffe::python
