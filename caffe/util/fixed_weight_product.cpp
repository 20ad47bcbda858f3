#include "caffe/util/fixed_weight_product.hpp"

#include <glog/logging.h>

#include "caffe/core/common.hpp"

#ifdef CAFFE_USE_DNNL
#include <unordered_map>

#include "caffe/util/dnnl_runtime.hpp"
#endif

namespace caffe {

#ifdef CAFFE_USE_DNNL

// One matmul primitive for a setup (shapes, storage, beta) and thread count (oneDNN splits the
// work for the thread count it sees at creation), with the memory of W in the layout the
// primitive chose.
struct FixedWeightProduct::Setup {
  Trans trans_a;
  int M, N, K;
  Trans trans_w;
  float beta;
  int threads;

  bool operator==(const Setup& other) const {
    return trans_a == other.trans_a && M == other.M && N == other.N && K == other.K &&
           trans_w == other.trans_w && beta == other.beta && threads == other.threads;
  }
};

namespace {

// A row-major [rows, cols] matrix, or with Trans::Yes the transpose of a row-major [cols, rows].
dnnl::memory::desc matrix_desc(int rows, int cols, Trans trans) {
  return dnnl::memory::desc(
      {rows, cols}, dnnl::memory::data_type::f32,
      trans == Trans::Yes ? dnnl::memory::format_tag::ba : dnnl::memory::format_tag::ab);
}

}  // namespace

class FixedWeightProduct::Packed {
 public:
  explicit Packed(const Setup& setup) : setup_(setup) {
    using dnnl::memory;
    const memory::desc a_desc = matrix_desc(setup.M, setup.K, setup.trans_a);
    const memory::desc c_desc = matrix_desc(setup.M, setup.N, Trans::No);
    const memory::desc user_weight_desc = matrix_desc(setup.K, setup.N, setup.trans_w);
    const memory::desc any_weight_desc({setup.K, setup.N}, memory::data_type::f32,
                                       memory::format_tag::any);
    const dnnl::engine& engine = dnnl_runtime::cpu_engine();
    dnnl_runtime::build("fixed-weight product setup", [&] {
      dnnl::primitive_attr attr;
      if (setup.beta != 0.0f) {
        dnnl::post_ops accumulate;
        accumulate.append_sum(setup.beta);
        attr.set_post_ops(accumulate);
      }
      const dnnl::matmul::primitive_desc pd({a_desc, any_weight_desc, c_desc}, attr, engine);
      matmul_ = dnnl::matmul(pd);
      user_weight_ = dnnl_runtime::unbound_memory(user_weight_desc);
      if (pd.weights_desc() != user_weight_desc) {
        packed_weight_ = memory(pd.weights_desc(), engine);
        pack_ = dnnl::reorder(user_weight_, packed_weight_);
      }
    });
    a_ = dnnl_runtime::unbound_memory(a_desc);
    c_ = dnnl_runtime::unbound_memory(c_desc);
    args_ = {{DNNL_ARG_SRC, a_},
             {DNNL_ARG_WEIGHTS, packed_weight_ ? packed_weight_ : user_weight_},
             {DNNL_ARG_DST, c_}};
  }

  const Setup& setup() const { return setup_; }

  // Reorders W into the primitive's layout, or uses it in place where that is its own layout.
  void Pack(const float* weight) {
    user_weight_.set_data_handle(const_cast<float*>(weight));  // oneDNN only reads W
    if (packed_weight_) {
      dnnl_runtime::execute("fixed-weight product reorder", pack_,
                            {{DNNL_ARG_FROM, user_weight_}, {DNNL_ARG_TO, packed_weight_}});
    }
  }

  void Run(const float* a, float* c) {
    a_.set_data_handle(const_cast<float*>(a));
    c_.set_data_handle(c);
    dnnl_runtime::execute("fixed-weight product", matmul_, args_);
  }

 private:
  Setup setup_;
  dnnl::matmul matmul_;
  dnnl::memory user_weight_;
  dnnl::memory packed_weight_;  // empty when the primitive reads W as it is
  dnnl::reorder pack_;
  dnnl::memory a_, c_;
  std::unordered_map<int, dnnl::memory> args_;
};

#endif  // CAFFE_USE_DNNL

FixedWeightProduct::FixedWeightProduct() = default;
FixedWeightProduct::~FixedWeightProduct() = default;

void FixedWeightProduct::Prepare(Mode mode, Trans trans_a, int M, int N, int K, Trans trans_w,
                                 const float* weight, float beta) {
  CHECK(beta == 0.0f || beta == 1.0f) << "beta " << beta;
  mode_ = mode;
  M_ = M;
  N_ = N;
  K_ = K;
  trans_a_ = trans_a;
  trans_w_ = trans_w;
  weight_ = weight;
  beta_ = beta;
#ifdef CAFFE_USE_DNNL
  if (mode != Mode::CPU || M == 0 || N == 0 || K == 0) return;
  const Setup setup{trans_a, M, N, K, trans_w, beta, blas_threads()};
  if (!packed_ || !(packed_->setup() == setup)) packed_ = std::make_unique<Packed>(setup);
  packed_->Pack(weight);
#endif
}

void FixedWeightProduct::Run(const float* a, float* c) const {
  if (M_ == 0 || N_ == 0) return;
#ifdef CAFFE_USE_DNNL
  if (mode_ == Mode::CPU && K_ > 0) {
    packed_->Run(a, c);
    return;
  }
#endif
  blas(mode_).gemm(trans_a_, trans_w_, M_, N_, K_, 1.0f, a, weight_, beta_, c);
}

}  // namespace caffe
