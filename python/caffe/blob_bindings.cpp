// Blob with numpy views of its values (.data) and gradients (.diff).
//
// Lifetime: a view points into the blob's SyncedMemory.  The array's numpy base is a Python
// object holding a shared_ptr to that SyncedMemory, so the memory lives as long as any view of
// it, even when the Blob, its Net, or both are gone, or when a growing Reshape gives the blob
// new storage (the old view then no longer aliases the blob, as in numpy after a resize).
#include <pybind11/stl.h>

#include <cstring>

#include "bindings.hpp"
#include "caffe/core/synced_memory.hpp"

namespace caffe::python {
namespace {

py::array_t<float> host_view(const std::shared_ptr<SyncedMemory>& memory, const Blob& blob) {
  std::vector<py::ssize_t> shape(blob.shape().begin(), blob.shape().end());
  // mutable_*: the caller may write, so the host copy becomes the newest one (in GPU mode the
  // next GPU access uploads it).
  auto* values = static_cast<float*>(memory->mutable_cpu_data());
  return py::array_t<float>(shape, values, py::cast(memory));
}

std::vector<int> dims_from_args(const py::args& args) {
  // reshape(2, 3) and reshape((2, 3)) / reshape([2, 3]) are both accepted.
  const py::handle dims =
      args.size() == 1 && !py::isinstance<py::int_>(args[0]) ? args[0] : py::handle(args);
  try {
    return dims.cast<std::vector<int>>();
  } catch (const py::cast_error&) {
    throw py::type_error("blob dimensions must be ints, got " + py::repr(args).cast<std::string>());
  }
}

py::tuple shape_tuple(const Blob& blob) { return py::tuple(py::cast(blob.shape())); }

void bind_blob(py::module_& m) {
  // Opaque owner of a blob's memory; it is only ever seen as a numpy array's .base.
  py::class_<SyncedMemory, std::shared_ptr<SyncedMemory>>(
      m, "_BlobMemory", py::custom_type_setup(&refuse_uninitialised_access));

  py::class_<Blob, std::shared_ptr<Blob>>(
      m, "Blob", py::custom_type_setup(&refuse_uninitialised_access),
      "An N-d float32 tensor with values (data) and gradients (diff).")
      .def(py::init([](const py::args& args) {
             return std::make_shared<Blob>(dims_from_args(args));
           }),
           "Blob(*dims) or Blob(shape): a zero-filled blob of that shape.")
      .def_property(
          "data", [](Blob& blob) { return blob_data_view(blob); },
          [](Blob& blob, const py::handle& values) { assign_blob_data(blob, values, "data"); },
          "float32 numpy view of the values (writes go to the blob). Assigning copies values of "
          "the same shape in.")
      .def_property(
          "diff", [](Blob& blob) { return blob_diff_view(blob); },
          [](Blob& blob, const py::handle& values) { assign_blob_diff(blob, values, "diff"); },
          "float32 numpy view of the gradients (writes go to the blob).")
      .def_property_readonly("shape", &shape_tuple)
      .def_property_readonly("count", py::overload_cast<>(&Blob::count, py::const_))
      .def_property_readonly("num_axes", &Blob::num_axes)
      .def_property_readonly("num", &Blob::num)
      .def_property_readonly("channels", &Blob::channels)
      .def_property_readonly("height", &Blob::height)
      .def_property_readonly("width", &Blob::width)
      .def(
          "reshape",
          [](Blob& blob, const py::args& args) { blob.Reshape(dims_from_args(args)); },
          "reshape(*dims): new shape; existing views keep the old shape (take .data again).")
      .def("__repr__", [](py::handle self) {
        const Blob& blob = initialised<Blob>(self, "__repr__");
        return "<caffe.Blob shape=" + py::repr(shape_tuple(blob)).cast<std::string>() + ">";
      });
}

}  // namespace

std::string shape_text(const std::vector<int>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

py::array_t<float> blob_data_view(Blob& blob) { return host_view(blob.data(), blob); }
py::array_t<float> blob_diff_view(Blob& blob) { return host_view(blob.diff(), blob); }

py::array_t<float> as_float_array(const py::handle& values, const std::vector<int>& shape,
                                  const std::string& what) {
  auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(values);
  if (!array) {
    throw py::type_error(what + ": expected an array of numbers, got " +
                         Py_TYPE(values.ptr())->tp_name);
  }
  const std::vector<int> given(array.shape(), array.shape() + array.ndim());
  if (given != shape) {
    throw py::value_error(what + " has shape " + shape_text(given) + " but the blob has shape " +
                          shape_text(shape));
  }
  return array;
}

namespace {

void copy_into(const std::shared_ptr<SyncedMemory>& memory, const Blob& blob,
               const py::handle& values, const std::string& what) {
  const py::array_t<float> array = as_float_array(values, blob.shape(), what);
  std::memcpy(memory->mutable_cpu_data(), array.data(), sizeof(float) * blob.count());
}

}  // namespace

void assign_blob_data(Blob& blob, const py::handle& values, const std::string& what) {
  copy_into(blob.data(), blob, values, what);
}

void assign_blob_diff(Blob& blob, const py::handle& values, const std::string& what) {
  copy_into(blob.diff(), blob, values, what);
}

CAFFE_PYTHON_BINDINGS(kBindBlob, bind_blob);

}  // namespace caffe::python
