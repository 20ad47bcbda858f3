// The _caffe extension module: registers caffe.CaffeError, then runs the binding groups that the
// python/caffe/*.cpp files registered with CAFFE_PYTHON_BINDINGS (see bindings.hpp).
#include <algorithm>

#include "bindings.hpp"
#include "caffe/core/common.hpp"

namespace caffe::python {
namespace {

struct RegisteredBinding {
  int order;
  const char* name;
  BindFunction bind;
};

// Filled by static initialisers of the binding files: a function-local static, so it exists
// before the first registrar runs whatever the order of the translation units.
std::vector<RegisteredBinding>& registered_bindings() {
  static std::vector<RegisteredBinding> bindings;
  return bindings;
}

py::handle& error_type_slot() {
  static py::handle type;
  return type;
}

}  // namespace

BindingRegistrar::BindingRegistrar(int order, const char* name, BindFunction bind) {
  registered_bindings().push_back({order, name, bind});
}

void run_registered_bindings(py::module_& module) {
  std::vector<RegisteredBinding> bindings = registered_bindings();
  // Ties are broken by name so the module is built the same way on every link order.
  std::sort(bindings.begin(), bindings.end(), [](const auto& a, const auto& b) {
    return a.order != b.order ? a.order < b.order : std::string(a.name) < b.name;
  });
  for (const RegisteredBinding& binding : bindings) binding.bind(module);
}

py::handle caffe_error_type() { return error_type_slot(); }

}  // namespace caffe::python

PYBIND11_MODULE(_caffe, module) {
  namespace py = pybind11;
  module.doc() = "C++ core of ApproxCaffe's Python interface (use the `caffe` package)";
  // User errors of the core (bad files, bad prototxt, shape mismatches) keep their message.
  auto& error = py::register_exception<caffe::Error>(module, "CaffeError", PyExc_RuntimeError);
  error.doc() = "An error in a net, prototxt or model file reported by the ApproxCaffe core.";
  caffe::python::error_type_slot() = error;
  caffe::python::run_registered_bindings(module);
}
