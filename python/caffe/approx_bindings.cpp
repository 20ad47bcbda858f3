// caffe._caffe.plan_approx_layers: the approximate-dropout layers of a net prototxt's TRAIN phase
// with the widths their patterns range over (layers/approx_dropout/layer_plan.hpp), for the
// schedule generator's --net mode (caffe.approx_dropout.planning).
#include "bindings.hpp"
#include "caffe/util/io.hpp"
#include "layers/approx_dropout/layer_plan.hpp"

namespace caffe::python {
namespace {

py::object int_or_none(bool known, long long value) {
  return known ? py::object(py::int_(value)) : py::none();
}

py::dict layer_entry(const approx_dropout::LayerPlan& layer, const std::string& build_error) {
  py::dict entry;
  entry["name"] = layer.name;
  entry["type"] = layer.type;
  entry["param"] = py::bytes(layer.param.SerializeAsString());
  entry["width"] = int_or_none(layer.width.has_value(), layer.width.value_or(0));
  const approx_dropout::TileGrid tiles = layer.tiles.value_or(approx_dropout::TileGrid{});
  entry["tile_rows"] = int_or_none(layer.tiles.has_value(), tiles.rows);
  entry["tile_cols"] = int_or_none(layer.tiles.has_value(), tiles.cols);
  entry["unknown_width_reason"] = layer.width ? py::object(py::none()) : py::str(build_error);
  return entry;
}

py::list plan_approx_layers(const std::string& prototxt_path) {
  const approx_dropout::NetPlan plan = approx_dropout::plan_layers(read_net_param(prototxt_path));
  py::list layers;
  for (const approx_dropout::LayerPlan& layer : plan.layers) {
    layers.append(layer_entry(layer, plan.build_error));
  }
  return layers;
}

void bind_approx(py::module_& m) {
  m.def("plan_approx_layers", &plan_approx_layers, py::arg("prototxt_path"),
        "The InnerProductApproxDropout / LSTMApproxDropout layers of the net's TRAIN phase (level "
        "and stages from its `state`), in prototxt order, as dicts: name, type, param (the "
        "serialized ApproxDropoutParameter; drop_side INPUT for LSTMApproxDropout), width (units "
        "or tiles the patterns range over), tile_rows and tile_cols (TILE), each None when "
        "unknown, and unknown_width_reason (why the net could not be built to measure the "
        "width, else None).  CaffeError for an unreadable net or a layer that cannot work.");
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindApprox, bind_approx);

}  // namespace caffe::python
