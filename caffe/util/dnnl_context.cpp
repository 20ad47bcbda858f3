#include "caffe/util/dnnl_context.hpp"

#ifdef CAFFE_USE_DNNL

#include <omp.h>

#include "caffe/core/common.hpp"

namespace caffe {

const dnnl::engine& dnnl_cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

void dnnl_match_thread_count() {
  const int threads = blas_threads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

DnnlTensor::DnnlTensor(const dnnl::memory::desc& plain, const dnnl::memory::desc& chosen, Role role)
    : role_(role), separate_(role == Role::kAccumulate || plain != chosen) {
  const dnnl::engine& engine = dnnl_cpu_engine();
  plain_ = dnnl::memory(plain, engine, DNNL_MEMORY_NONE);
  if (!separate_) return;
  chosen_ = dnnl::memory(chosen, engine);
  if (role == Role::kInput) {
    reorder_ = dnnl::reorder(plain_, chosen_);
    return;
  }
  dnnl::primitive_attr attr;
  if (role == Role::kAccumulate) {
    dnnl::post_ops add_to_destination;
    add_to_destination.append_sum(1.0f);
    attr.set_post_ops(add_to_destination);
  }
  reorder_ = dnnl::reorder(chosen_, plain_, attr);
}

dnnl::memory DnnlTensor::Bind(const float* data, dnnl::stream& stream) {
  // oneDNN takes non-const handles; inputs are only read.
  plain_.set_data_handle(const_cast<float*>(data));
  if (!separate_) return plain_;
  if (role_ == Role::kInput) reorder_.execute(stream, plain_, chosen_);
  return chosen_;
}

void DnnlTensor::Commit(dnnl::stream& stream) {
  if (separate_ && role_ != Role::kInput) reorder_.execute(stream, chosen_, plain_);
}

}  // namespace caffe

#endif  // CAFFE_USE_DNNL
