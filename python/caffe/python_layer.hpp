// PythonLayer: the layer type "Python", whose computation is a Python class.
//
//   layer { name: "double" type: "Python" bottom: "x" top: "y"
//           python_param { module: "my_layers" layer: "Double" param_str: "..." } }
//
// The class (a subclass of caffe.Layer, see layer.py) is imported and instantiated when the net
// is built; setup / reshape / forward / backward are its methods, called with the GIL held.  A
// Python exception becomes a caffe::Error carrying the Python traceback, so the net adds the
// layer's name and bottoms as for any other layer.  KeyboardInterrupt and SystemExit are not
// errors of the layer: they propagate unchanged.
//
// The type is registered in the layer registry when the _caffe extension is loaded, so only nets
// built through pycaffe can contain Python layers.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <vector>

#include "caffe/core/layer.hpp"

namespace caffe::python {

namespace py = pybind11;

// What a Python layer's `self.blobs` is: the C++ layer's learnable blobs.  The PythonLayer
// detaches it when it is destroyed, so a Python reference that outlives the net fails cleanly
// instead of reaching freed memory.
struct LayerBlobs {
  Layer* layer = nullptr;
  // Learnable blobs may only be added during setup(): the net collects a layer's parameters
  // right after setting it up.
  bool adding_allowed = false;

  std::vector<std::shared_ptr<Blob>>& blobs() const;
};

class PythonLayer : public Layer {
 public:
  // Imports python_param.module and instantiates its class python_param.layer.
  explicit PythonLayer(const LayerParameter& param);
  ~PythonLayer() override;

  const char* type() const override { return "Python"; }
  // Sets self.param_str, self.phase and self.blobs, then calls self.setup(bottom, top).
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;

 private:
  // Calls self.<method>(args...).  The caller holds the GIL.
  template <typename... Args>
  void call(const char* method, Args&&... args);

  py::object self_;
  std::shared_ptr<LayerBlobs> blobs_handle_;
};

}  // namespace caffe::python
