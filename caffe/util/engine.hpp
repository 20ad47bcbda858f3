#pragma once
// Which implementation a layer with an `engine` field (Convolution, Deconvolution, Pooling, ...)
// runs on, per device.  See docs/architecture.md, "Engines".
//
//   engine: CAFFE    our own kernels (im2col + BLAS, element-wise passes) on either device.
//   engine: CUDNN    the vendor library of the device: cuDNN on the GPU, oneDNN on the CPU.
//   engine: DEFAULT  the library where the benchmark showed that it pays for this layer type
//                    and the build has it, otherwise CAFFE.
// The proto enums of the layers share the numbering DEFAULT = 0, CAFFE = 1, CUDNN = 2.
#include <optional>
#include <string>

#include "caffe/core/common.hpp"

namespace caffe {

enum class Backend { kCaffe, kDnnl, kCudnn };

// The library engine this build has for a device (kCaffe when it has none).
Backend library_backend(Mode mode);

// Resolves a layer's engine field (0 DEFAULT, 1 CAFFE, 2 CUDNN) for a device.  `library_pays`
// says whether DEFAULT picks the library for this layer type on that device.  Asking for CUDNN
// on a device whose library is not built in is an error naming the layer.
Backend resolve_engine(int engine_field, Mode mode, bool library_pays, const std::string& layer);

const char* backend_name(Backend backend);

// For layers whose backward needs what their forward left behind (an argmax, oneDNN's
// workspace, saved scales): errors unless the last forward over the current shapes ran on the
// backend that backward is about to use.  `last_forward` is empty when none has.
void check_forward_ran_on(Backend backward, const std::optional<Backend>& last_forward);

}  // namespace caffe
