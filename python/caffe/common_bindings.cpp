// Process-wide settings (mode, device, seed, BLAS threads, column skipping), the Phase enum and
// the layer registry.
#include <pybind11/native_enum.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "caffe/core/common.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/util/masked_product.hpp"

namespace caffe::python {

Phase phase_from_int(int phase) {
  if (!Phase_IsValid(phase)) {
    throw py::value_error("phase must be caffe.TRAIN (0) or caffe.TEST (1), got " +
                          std::to_string(phase));
  }
  return static_cast<Phase>(phase);
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
  m.def("blas_info", &blas_info, "The CPU BLAS library, its core type and thread count.");
  m.def("blas_threads", &blas_threads, "Number of threads the CPU BLAS uses.");
  m.def(
      "set_blas_threads",
      [](int threads) {
        if (threads < 1) throw py::value_error("set_blas_threads needs at least 1 thread");
        set_blas_threads(threads);
      },
      py::arg("threads"), "Set the number of threads the CPU BLAS uses.");
  m.def("layer_type_list", &LayerRegistry::Types, "The registered layer types, sorted.");
  m.def("set_column_skip", &set_column_skip_enabled, py::arg("enabled"),
        "Whether fully connected layers skip the input columns an approximate-dropout layer left "
        "zero (on by default; CAFFE_NO_PATTERN_SKIP=1 starts it off). Results are the same either "
        "way; turning it off measures the paper's unoptimised ROW pattern.");
  m.def("column_skip_enabled", &column_skip_enabled,
        "Whether fully connected layers skip the input columns left zero by approximate dropout.");
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindCommon, bind_common);

}  // namespace caffe::python
