// oneDNN (Debian's libdnnl) as the CPU library engine: the process's CPU engine, the thread
// count, and a tensor helper that keeps library layouts inside a layer (blobs stay NCHW).
#pragma once

#ifdef CAFFE_USE_DNNL

#include <dnnl.hpp>

namespace caffe {

// The CPU engine, created on first use and kept for the process.
const dnnl::engine& dnnl_cpu_engine();

// Debian's libdnnl runs its primitives on OpenMP (libgomp), whose team size is a setting of the
// calling thread, independent of OpenBLAS's.  Sets it to blas_threads() (CAFFE_NUM_THREADS,
// --threads, caffe.set_blas_threads), so that oneDNN uses the same cores as the rest of the
// framework; cheap enough to call before every execution.
void dnnl_match_thread_count();

// One argument of a primitive: the caller's plain buffer (NCHW data, OIHW / GOIHW weights, a
// bias vector) and, when the primitive chose another layout, a buffer in that layout with the
// reorder between the two, both built once.  An output that accumulates (parameter gradients:
// dW += ...) always goes through its own buffer and a reorder that adds (a sum post-op).
class DnnlTensor {
 public:
  enum class Role { kInput, kOutput, kAccumulate };

  DnnlTensor() = default;
  DnnlTensor(const dnnl::memory::desc& plain, const dnnl::memory::desc& chosen, Role role);

  // The memory to pass to the primitive for the plain buffer `data`; an input in another layout
  // is reordered into it now.
  dnnl::memory Bind(const float* data, dnnl::stream& stream);
  // After the primitive ran: moves (or adds) an output computed in its own buffer to the plain
  // buffer last bound.
  void Commit(dnnl::stream& stream);

 private:
  Role role_ = Role::kInput;
  bool separate_ = false;  // the primitive works on chosen_, not on plain_
  dnnl::memory plain_, chosen_;
  dnnl::reorder reorder_;
};

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
