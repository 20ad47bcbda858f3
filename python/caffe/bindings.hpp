// Shared pieces of the _caffe extension module.
//
// Every python/caffe/*.cpp file is compiled into the module (CMake globs them).  A file adds its
// classes and functions with CAFFE_PYTHON_BINDINGS(order, function); PYBIND11_MODULE in
// _caffe.cpp runs the registered functions in ascending order, so a new file (solver bindings,
// say) needs no edit anywhere else:
//
//   void bind_solver(pybind11::module_& m) { ... }
//   CAFFE_PYTHON_BINDINGS(caffe::python::kBindSolver, bind_solver);
//
// A binding group may use the Python classes of the groups registered before it (a Solver's
// `net` property returns the Net class bound by kBindNet, for instance).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/net.hpp"

namespace caffe::python {

namespace py = pybind11;

// Registration order of the binding groups.
enum BindingOrder : int {
  kBindCommon = 0,   // process settings, Phase, layer registry
  kBindBlob = 10,    // Blob and its numpy views
  kBindNet = 20,     // Net and Layer
  kBindSolver = 30,  // solvers (they hand out Nets)
  kBindApprox = 40,  // approximate-dropout schedule planning
  kBindCodec = 50,   // the weight codec behind caffe.compression
};

using BindFunction = void (*)(py::module_&);

struct BindingRegistrar {
  BindingRegistrar(int order, const char* name, BindFunction bind);
};

// Runs every registered binding function on `module`, in ascending order.
void run_registered_bindings(py::module_& module);

#define CAFFE_PYTHON_BINDINGS(order, function)                                    \
  static const ::caffe::python::BindingRegistrar binding_registrar_##function( \
      order, #function, function)

// ---- helpers shared by the binding files ----

// The Python exception class for caffe::Error (caffe.CaffeError, a RuntimeError).  Valid once
// the module is initialised.
py::handle caffe_error_type();

// pybind11 lets Python hold an instance whose __init__ never ran (T.__new__(T), or a subclass
// that keeps `self` before its base __init__ raises); a C++ method called on it would run on
// uninitialised memory and crash the interpreter.  Every bound class passes this to
// py::custom_type_setup: reading any attribute but __init__ / __class__ of such an instance then
// raises TypeError.  Slot methods (__repr__, __len__, ...) bypass attribute lookup, so they take
// `py::handle self` and get the object through initialised<T>(self).
void refuse_uninitialised_access(PyHeapTypeObject* heap_type);

// The message of the TypeError for using `what` of an uninitialised instance.
std::string uninitialised_message(py::handle self, const std::string& what);

// Whether `self` (an instance of a bound class) points to a C++ object.  Not the holder: an
// instance that refers to an object owned elsewhere (a Python layer's bottom and top blobs) has
// none.
inline bool points_to_object(py::handle self) {
  return reinterpret_cast<py::detail::instance*>(self.ptr())->get_value_and_holder().value_ptr() !=
         nullptr;
}

// The C++ object behind `self`; TypeError when its __init__ never ran.
template <class T>
T& initialised(py::handle self, const char* what) {
  if (!points_to_object(self)) {
    throw py::type_error(uninitialised_message(self, what));
  }
  return self.cast<T&>();
}

// Converts a Python int (caffe.TRAIN / caffe.TEST or 0 / 1) to a Phase; ValueError otherwise.
Phase phase_from_int(int phase);

// numpy float32 views of a blob's values and gradients, with the blob's shape.  They write
// through to the blob's host memory and keep that memory alive on their own (the array's base
// owns a reference to the storage), so they stay valid after the blob or its Net is gone.
py::array_t<float> blob_data_view(Blob& blob);
py::array_t<float> blob_diff_view(Blob& blob);

// A shape the way numpy prints it: "(2, 3)", "(5,)".
std::string shape_text(const std::vector<int>& shape);

// `values` as a C-contiguous float32 array (converted if needed), checked to have exactly
// `shape`.  `what` names the value in the ValueError raised on a mismatch ("input 'data'").
py::array_t<float> as_float_array(const py::handle& values, const std::vector<int>& shape,
                                  const std::string& what);

// Copies `values` (checked as by as_float_array) into the blob's host data or diff.
void assign_blob_data(Blob& blob, const py::handle& values, const std::string& what);
void assign_blob_diff(Blob& blob, const py::handle& values, const std::string& what);

}  // namespace caffe::python
