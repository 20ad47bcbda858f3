#include "python_layer.hpp"

#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "caffe/core/layer_registry.hpp"

namespace caffe::python {
namespace {

// Non-owning Blob objects for the duration of one call.  (A layer that keeps one beyond the
// call must copy its .data: the net may free or reshape the blob.)
py::list blob_list(const BlobVec& blobs) {
  py::list list;
  for (Blob* blob : blobs) list.append(py::cast(blob, py::return_value_policy::reference));
  return list;
}

std::string class_name(const LayerParameter& param) {
  return param.python_param().module() + "." + param.python_param().layer();
}

// Turns a Python exception raised while running `what` into a caffe::Error that carries the
// Python traceback.  KeyboardInterrupt and SystemExit (not subclasses of Exception) are requests
// to the program rather than failures of the layer: they propagate as they are.
[[noreturn]] void rethrow_as_error(py::error_already_set& error, const std::string& what) {
  if (!error.matches(PyExc_Exception)) throw;
  std::string traceback;
  try {
    // An error raised before any Python frame ran (a failed import) has no traceback.
    const py::object trace = error.trace() ? error.trace() : py::none();
    const py::list lines = py::module_::import("traceback")
                               .attr("format_exception")(error.type(), error.value(), trace);
    for (const py::handle line : lines) traceback += line.cast<std::string>();
  } catch (const py::error_already_set&) {
    traceback = error.what();  // pybind11's own (shorter) rendering
  }
  while (!traceback.empty() && traceback.back() == '\n') traceback.pop_back();
  fail(what, " raised an exception:\n", traceback);
}

// Allows LayerBlobs::add_blob while in scope.
class AddingBlobs {
 public:
  explicit AddingBlobs(LayerBlobs& blobs) : blobs_(blobs) { blobs_.adding_allowed = true; }
  ~AddingBlobs() { blobs_.adding_allowed = false; }
  AddingBlobs(const AddingBlobs&) = delete;
  AddingBlobs& operator=(const AddingBlobs&) = delete;

 private:
  LayerBlobs& blobs_;
};

}  // namespace

std::vector<std::shared_ptr<Blob>>& LayerBlobs::blobs() const {
  if (layer == nullptr) fail("this Python layer's net no longer exists, nor do its blobs");
  return layer->blobs();
}

PythonLayer::PythonLayer(const LayerParameter& param)
    : Layer(param), blobs_handle_(std::make_shared<LayerBlobs>()) {
  const PythonParameter& python_param = param.python_param();
  if (python_param.module().empty() || python_param.layer().empty()) {
    fail("python_param needs `module` (a Python module on sys.path) and `layer` (the name of a "
         "class in it that derives from caffe.Layer)");
  }
  py::gil_scoped_acquire gil;
  try {
    const py::object layer_class =
        py::module_::import(python_param.module().c_str()).attr(python_param.layer().c_str());
    const py::object base = py::module_::import("caffe.layer").attr("Layer");
    if (!py::isinstance<py::type>(layer_class) ||
        PyObject_IsSubclass(layer_class.ptr(), base.ptr()) != 1) {
      fail("python_param: '", class_name(param), "' must be a class deriving from caffe.Layer");
    }
    self_ = layer_class();
  } catch (py::error_already_set& error) {
    rethrow_as_error(error, "loading the Python layer class '" + class_name(param) + "'");
  }
  blobs_handle_->layer = this;
}

PythonLayer::~PythonLayer() {
  if (!Py_IsInitialized()) {
    self_.release();  // the interpreter is gone: nothing left to release the object to
    return;
  }
  py::gil_scoped_acquire gil;
  blobs_handle_->layer = nullptr;
  self_ = py::object();
}

template <typename... Args>
void PythonLayer::call(const char* method, Args&&... args) {
  try {
    self_.attr(method)(std::forward<Args>(args)...);
  } catch (py::error_already_set& error) {
    rethrow_as_error(error, std::string(method) + "() of Python layer class '" +
                                class_name(layer_param_) + "'");
  }
}

void PythonLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  py::gil_scoped_acquire gil;
  try {
    self_.attr("param_str") = layer_param_.python_param().param_str();
    self_.attr("phase") = phase_;
    self_.attr("_caffe_blobs") = blobs_handle_;
  } catch (py::error_already_set& error) {
    rethrow_as_error(error, "setting param_str / phase on '" + class_name(layer_param_) + "'");
  }
  const AddingBlobs adding(*blobs_handle_);
  call("setup", blob_list(bottom), blob_list(top));
}

void PythonLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  py::gil_scoped_acquire gil;
  call("reshape", blob_list(bottom), blob_list(top));
}

void PythonLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  py::gil_scoped_acquire gil;
  call("forward", blob_list(bottom), blob_list(top));
}

void PythonLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                               const BlobVec& bottom) {
  py::gil_scoped_acquire gil;
  call("backward", blob_list(top), py::cast(propagate_down), blob_list(bottom));
}

REGISTER_LAYER("Python", PythonLayer);

namespace {

py::object add_blob(LayerBlobs& self, const py::args& shape) {
  std::vector<std::shared_ptr<Blob>>& blobs = self.blobs();
  if (!self.adding_allowed) {
    fail("blobs.add_blob() works only in setup(): the net collects a layer's learnable blobs "
         "when it sets the layer up");
  }
  // The Blob constructor's argument handling: add_blob(2, 3) or add_blob((2, 3)).
  py::object blob = py::module_::import("caffe._caffe").attr("Blob")(*shape);
  blobs.push_back(blob.cast<std::shared_ptr<Blob>>());
  return blob;
}

std::shared_ptr<Blob> blob_at(const LayerBlobs& self, py::ssize_t index) {
  const std::vector<std::shared_ptr<Blob>>& blobs = self.blobs();
  const auto size = static_cast<py::ssize_t>(blobs.size());
  if (index < -size || index >= size) {
    throw py::index_error("blob index " + std::to_string(index) + " out of range for " +
                          std::to_string(size) + " blob(s)");
  }
  return blobs[index < 0 ? index + size : index];
}

void bind_python_layer(py::module_& m) {
  py::class_<LayerBlobs, std::shared_ptr<LayerBlobs>>(
      m, "_LayerBlobs", py::custom_type_setup(&refuse_uninitialised_access),
      "The learnable blobs of a Python layer (its `self.blobs`).")
      .def("add_blob", &add_blob,
           "add_blob(*shape) -> Blob: a new zero-filled learnable blob (in setup() only).")
      .def("__len__",
           [](py::handle self) { return initialised<LayerBlobs>(self, "__len__").blobs().size(); })
      .def("__getitem__",
           [](py::handle self, py::ssize_t index) {
             return blob_at(initialised<LayerBlobs>(self, "__getitem__"), index);
           })
      .def("__iter__",
           [](py::handle self) {
             return py::iter(py::cast(initialised<LayerBlobs>(self, "__iter__").blobs()));
           })
      .def("__repr__", [](py::handle self) {
        const LayerBlobs& blobs = initialised<LayerBlobs>(self, "__repr__");
        return "<caffe Python layer blobs: " +
               py::repr(py::cast(blobs.blobs())).cast<std::string>() + ">";
      });
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindNet, bind_python_layer);

}  // namespace caffe::python
