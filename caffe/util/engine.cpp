#include "caffe/util/engine.hpp"

namespace caffe {

Backend library_backend(Mode mode) {
  if (mode == Mode::GPU) {
#ifdef CAFFE_USE_CUDNN
    return Backend::kCudnn;
#endif
  } else {
#ifdef CAFFE_USE_DNNL
    return Backend::kDnnl;
#endif
  }
  return Backend::kCaffe;
}

Backend resolve_engine(int engine_field, Mode mode, bool library_pays, const std::string& layer) {
  constexpr int kDefault = 0, kCaffe = 1, kLibrary = 2;
  const Backend library = library_backend(mode);
  switch (engine_field) {
    case kDefault:
      return library_pays ? library : Backend::kCaffe;
    case kCaffe:
      return Backend::kCaffe;
    case kLibrary:
      if (library == Backend::kCaffe) {
        fail("layer '", layer, "': engine CUDNN asks for the ",
             mode == Mode::GPU ? "cuDNN" : "oneDNN",
             " engine, and this build does not have it (use engine: CAFFE or DEFAULT)");
      }
      return library;
    default:
      fail("layer '", layer, "': unknown engine ", engine_field);
  }
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::kDnnl:
      return "oneDNN";
    case Backend::kCudnn:
      return "cuDNN";
    case Backend::kCaffe:
      break;
  }
  return "CAFFE";
}

void check_forward_ran_on(Backend backward, const std::optional<Backend>& last_forward) {
  if (last_forward == backward) return;
  fail("backward on ", backend_name(backward),
       " needs what a forward pass on the same engine over the same shapes keeps; the last "
       "forward ",
       last_forward ? std::string("ran on ") + backend_name(*last_forward)
                    : std::string("did not run for these shapes"));
}

}  // namespace caffe
