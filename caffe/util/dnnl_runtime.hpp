// The oneDNN CPU engine as the layers use it: one engine for the process, a stream per thread,
// NCHW float descriptors over blob memory, and execution on as many threads as the CPU BLAS
// (blas_threads()), so that CAFFE_NUM_THREADS and caffe.set_blas_threads govern oneDNN too.
#pragma once

#ifdef CAFFE_USE_DNNL

#include <dnnl.hpp>
#include <unordered_map>

namespace caffe {
namespace dnnl_runtime {

const dnnl::engine& cpu_engine();

// A dense NCHW float tensor: how blobs lie in memory.
dnnl::memory::desc nchw_desc(int num, int channels, int height, int width);

// A memory object over no buffer yet; execute() is given the blob pointers each call.
dnnl::memory unbound_memory(const dnnl::memory::desc& desc);

// Sets the calling thread's oneDNN thread count to blas_threads().  oneDNN splits a primitive's
// work for the thread count it sees when the primitive is created, so build() calls this too.
void use_blas_threads();

// Runs `primitive` on this thread's stream with blas_threads() threads and waits for it.
// A oneDNN failure becomes caffe::Error naming `what`.
void execute(const char* what, const dnnl::primitive& primitive,
             const std::unordered_map<int, dnnl::memory>& args);

[[noreturn]] void throw_dnnl_error(const char* what, const dnnl::error& error);

// Runs `body` (building descriptors and primitives), turning a oneDNN exception into
// caffe::Error naming `what`.
template <typename Build>
auto build(const char* what, Build&& body) -> decltype(body()) {
  use_blas_threads();
  try {
    return body();
  } catch (const dnnl::error& error) {
    throw_dnnl_error(what, error);
  }
}

}  // namespace dnnl_runtime
}  // namespace caffe

#endif  // CAFFE_USE_DNNL
