// The net upgrade for pycaffe (caffe/core/net_upgrade.hpp): io.load_net_param runs the same rules
// as the C++ loaders, on a NetParameter serialized by Python.
#include "bindings.hpp"
#include "caffe/core/net_upgrade.hpp"

namespace caffe::python {
namespace {

py::bytes upgrade_net_param(const py::bytes& serialized, const std::string& origin) {
  NetParameter param;
  if (!param.ParseFromString(std::string(serialized))) {
    fail(origin, ": the NetParameter could not be parsed");
  }
  upgrade_net_logged(&param, origin);
  std::string bytes;
  param.SerializeToString(&bytes);
  return py::bytes(bytes);
}

void bind_upgrade(py::module_& m) {
  m.def("upgrade_net_param", &upgrade_net_param, py::arg("serialized"), py::arg("origin"),
        "A serialized NetParameter with its old forms (V0 / V1 layers, net-level inputs, legacy "
        "data-layer fields) upgraded, logging a warning that names `origin`; the same bytes' "
        "content when it was current.");
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindCommon, bind_upgrade);

}  // namespace caffe::python
