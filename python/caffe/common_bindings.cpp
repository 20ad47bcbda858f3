// Process-wide settings (mode, device, seed, BLAS threads, column skipping, sparse backward), the
// Phase enum, the layer registry, and the guard that keeps Python from using a bound object before
// its __init__.
#include <pybind11/native_enum.h>
#include <pybind11/stl.h>

#include <cstring>

#include "bindings.hpp"
#include "caffe/core/common.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/util/masked_product.hpp"
#include "caffe/util/math_functions.hpp"
#include "caffe/util/sparse_backward.hpp"

namespace caffe::python {

Phase phase_from_int(int phase) {
  if (!Phase_IsValid(phase)) {
    throw py::value_error("phase must be caffe.TRAIN (0) or caffe.TEST (1), got " +
                          std::to_string(phase));
  }
  return static_cast<Phase>(phase);
}

namespace {

constexpr std::pair<const char*, SparseBackwardPolicy> kSparsePolicies[] = {
    {"auto", SparseBackwardPolicy::kAuto},
    {"never", SparseBackwardPolicy::kNever},
    {"always", SparseBackwardPolicy::kAlways}};

SparseBackwardPolicy sparse_policy_named(const std::string& name) {
  for (const auto& [known, policy] : kSparsePolicies) {
    if (name == known) return policy;
  }
  throw py::value_error("set_sparse_backward: policy must be 'auto', 'never' or 'always', got '" +
                        name + "'");
}

std::string sparse_policy_name(SparseBackwardPolicy policy) {
  for (const auto& [known, value] : kSparsePolicies) {
    if (value == policy) return known;
  }
  return "auto";
}

// Python's attribute lookup for the bound classes: refused on an instance whose C++ object was
// never constructed (see bindings.hpp), except what it takes to construct it or name its type.
// A C slot: it reports errors the C API way, never by throwing.
PyObject* getattr_if_initialised(PyObject* self, PyObject* name) {
  if (!points_to_object(self)) {
    const char* attribute = PyUnicode_AsUTF8(name);
    if (attribute == nullptr) return nullptr;
    if (std::strcmp(attribute, "__init__") != 0 && std::strcmp(attribute, "__class__") != 0) {
      PyErr_SetString(PyExc_TypeError, uninitialised_message(self, attribute).c_str());
      return nullptr;
    }
  }
  return PyObject_GenericGetAttr(self, name);
}

}  // namespace

std::string uninitialised_message(py::handle self, const std::string& what) {
  return std::string("the ") + _PyType_Name(Py_TYPE(self.ptr())) +
         " object was not initialised (its __init__ did not run or failed), so '" + what +
         "' cannot be used";
}

void refuse_uninitialised_access(PyHeapTypeObject* heap_type) {
  heap_type->ht_type.tp_getattro = getattr_if_initialised;
}

namespace {

void bind_common(py::module_& m) {
  // An IntEnum, so caffe.TRAIN can go straight into protobuf fields (NetStateRule.phase, ...).
  py::native_enum<Phase>(m, "Phase", "enum.IntEnum", "Net phase: TRAIN or TEST.")
      .value("TRAIN", TRAIN)
      .value("TEST", TEST)
      .export_values()
      .finalize();

  m.def("set_mode_cpu", [] { set_mode(Mode::CPU); }, "Run nets on the CPU.");
  m.def("set_mode_gpu", [] { set_mode(Mode::GPU); },
        "Run nets on the selected GPU (CaffeError without CUDA or a device).");
  m.def("get_mode", [] { return mode() == Mode::GPU ? "GPU" : "CPU"; },
        "The current mode: 'CPU' or 'GPU'.");
  m.def("set_device", &set_device, py::arg("device_id"),
        "Select the CUDA device used in GPU mode (CaffeError if it does not exist).");
  m.def("set_random_seed", &set_random_seed, py::arg("seed"),
        "Seed every random stream (weight fillers, dropout masks, shuffling) of nets built later.");
  m.def("gpu_count", &gpu_count, "Number of visible CUDA devices (0 in a CPU-only build).");
  m.def("cuda_compiled", &cuda_compiled, "Whether this build has CUDA support.");
  // BVLC's scripts ask before using caffe.NCCL; multi-GPU training here is not built on NCCL.
  m.def(
      "has_nccl", [] { return false; },
      "Whether this build has BVLC's NCCL multi-GPU interface (caffe.NCCL): it does not.");
  m.def("blas_info", &blas_info, "The CPU BLAS library, its core type and thread count.");
  m.def("blas_threads", &blas_threads, "Number of threads the CPU BLAS uses.");
  m.def(
      "set_blas_threads",
      [](int threads) {
        if (threads < 1) throw py::value_error("set_blas_threads needs at least 1 thread");
        set_blas_threads(threads);
      },
      py::arg("threads"), "Set the number of threads the CPU BLAS uses.");
  m.def(
      "set_gemm_backend",
      [](const std::string& name) {
        if (name == "onednn") {
          set_cpu_gemm_backend(GemmBackend::OneDNN);  // CaffeError in a build without oneDNN
        } else if (name == "openblas") {
          set_cpu_gemm_backend(GemmBackend::OpenBLAS);
        } else {
          throw py::value_error("set_gemm_backend: expected 'onednn' or 'openblas', got '" +
                                name + "'");
        }
      },
      py::arg("name"),
      "Select the library of the CPU matrix products: 'onednn' (the default where built with "
      "oneDNN) or 'openblas' (what CAFFE_GEMM=openblas selects at start).");
  m.def(
      "gemm_backend", [] { return std::string(gemm_backend_name(cpu_gemm_backend())); },
      "The library of the CPU matrix products: 'oneDNN' or 'OpenBLAS'.");
  m.def("layer_type_list", &LayerRegistry::Types, "The registered layer types, sorted.");
  m.def("set_column_skip", &set_column_skip_enabled, py::arg("enabled"),
        "Whether fully connected layers skip the input columns an approximate-dropout layer left "
        "zero (on by default; CAFFE_NO_PATTERN_SKIP=1 starts it off). Results are the same either "
        "way; turning it off measures the paper's unoptimised ROW pattern.");
  m.def("column_skip_enabled", &column_skip_enabled,
        "Whether fully connected layers skip the input columns left zero by approximate dropout.");
  m.def(
      "set_sparse_backward",
      [](const std::string& policy) { set_sparse_backward_policy(sparse_policy_named(policy)); },
      py::arg("policy"),
      "How Convolution and InnerProduct backward use a sparse top gradient: 'auto' (the sparse "
      "kernels below the measured density crossover; the default), 'never' (the dense engine; "
      "CAFFE_NO_SPARSE_BACKWARD=1 starts it so) or 'always'. Results agree to float rounding.");
  m.def(
      "sparse_backward", [] { return sparse_policy_name(sparse_backward_policy()); },
      "The sparse-backward policy: 'auto', 'never' or 'always' (see set_sparse_backward).");
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindCommon, bind_common);

}  // namespace caffe::python
