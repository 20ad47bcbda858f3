#include "caffe/util/dnnl_runtime.hpp"

#ifdef CAFFE_USE_DNNL

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

#include "caffe/core/common.hpp"

namespace caffe {
namespace dnnl_runtime {

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc nchw_desc(int num, int channels, int height, int width) {
  return dnnl::memory::desc({num, channels, height, width}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::nchw);
}

dnnl::memory unbound_memory(const dnnl::memory::desc& desc) {
  return dnnl::memory(desc, cpu_engine(), DNNL_MEMORY_NONE);
}

void throw_dnnl_error(const char* what, const dnnl::error& error) {
  fail("oneDNN ", what, " failed: ", error.what(), " (status ", static_cast<int>(error.status),
       ")");
}

void use_blas_threads() {
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  // An OpenMP libdnnl (Debian's) runs on as many threads as the calling thread's OpenMP setting.
  omp_set_num_threads(blas_threads());
#endif
}

void execute(const char* what, const dnnl::primitive& primitive,
             const std::unordered_map<int, dnnl::memory>& args) {
  use_blas_threads();
  thread_local dnnl::stream stream(cpu_engine());
  try {
    primitive.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& error) {
    throw_dnnl_error(what, error);
  }
}

}  // namespace dnnl_runtime
}  // namespace caffe

#endif  // CAFFE_USE_DNNL
