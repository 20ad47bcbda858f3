// The host GEMM (cpu_gemm_ld, caffe/util/math_functions.hpp) on each backend: every transpose,
// leading dimensions wider than the operands, beta 0 over a C full of NaN (BLAS does not read C
// then), beta 1, and K = 0, against a double-precision reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

struct GemmCase {
  Trans trans_a, trans_b;
  int M, N, K;
};

// Restores the process's backend after a test switches it.
class GemmBackendGuard {
 public:
  GemmBackendGuard() : saved_(cpu_gemm_backend()) {}
  ~GemmBackendGuard() { set_cpu_gemm_backend(saved_); }

 private:
  GemmBackend saved_;
};

std::vector<GemmBackend> built_backends() {
#ifdef CAFFE_USE_DNNL
  return {GemmBackend::OpenBLAS, GemmBackend::OneDNN};
#else
  return {GemmBackend::OpenBLAS};
#endif
}

std::vector<float> random_values(size_t count, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = uniform(generator);
  return values;
}

// Checks C = alpha · op(A) · op(B) + beta · C0 for one case, with every leading dimension 3
// wider than its operand's row.
void check_case(const GemmCase& c, float alpha, float beta, float c_fill) {
  const int a_rows = c.trans_a == Trans::No ? c.M : c.K, a_cols = c.trans_a == Trans::No ? c.K : c.M;
  const int b_rows = c.trans_b == Trans::No ? c.K : c.N, b_cols = c.trans_b == Trans::No ? c.N : c.K;
  const int lda = a_cols + 3, ldb = b_cols + 3, ldc = c.N + 3;
  const std::vector<float> A = random_values(static_cast<size_t>(a_rows) * lda, 1);
  const std::vector<float> B = random_values(static_cast<size_t>(b_rows) * ldb, 2);
  std::vector<float> C = random_values(static_cast<size_t>(c.M) * ldc, 3);
  for (int i = 0; i < c.M; ++i) {
    for (int j = 0; j < c.N; ++j) C[i * ldc + j] = std::isnan(c_fill) ? c_fill : C[i * ldc + j];
  }
  const std::vector<float> before = C;
  cpu_gemm_ld(c.trans_a, c.trans_b, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta,
              C.data(), ldc);
  for (int i = 0; i < c.M; ++i) {
    for (int j = 0; j < ldc; ++j) {
      const float got = C[i * ldc + j];
      if (j >= c.N) {  // padding past N stays untouched
        ASSERT_EQ(got, before[i * ldc + j]) << "padding at " << i << "," << j;
        continue;
      }
      double sum = 0.0;
      for (int k = 0; k < c.K; ++k) {
        const float a = c.trans_a == Trans::No ? A[i * lda + k] : A[k * lda + i];
        const float b = c.trans_b == Trans::No ? B[k * ldb + j] : B[j * ldb + k];
        sum += static_cast<double>(a) * b;
      }
      const double expected = alpha * sum + (beta == 0.0f ? 0.0 : beta * before[i * ldc + j]);
      ASSERT_TRUE(std::isfinite(got)) << "C(" << i << "," << j << ") = " << got;
      ASSERT_NEAR(got, expected, 1e-5 * (1.0 + std::sqrt(static_cast<double>(c.K))))
          << "C(" << i << "," << j << ")";
    }
  }
}

class CpuGemm : public ::testing::TestWithParam<GemmBackend> {
 protected:
  void SetUp() override { set_cpu_gemm_backend(GetParam()); }
  GemmBackendGuard guard_;
};

TEST_P(CpuGemm, EveryTransposeWithWideLeadingDimensions) {
  for (Trans ta : {Trans::No, Trans::Yes}) {
    for (Trans tb : {Trans::No, Trans::Yes}) {
      SCOPED_TRACE(std::string("trans_a ") + (ta == Trans::Yes ? "T" : "N") + ", trans_b " +
                   (tb == Trans::Yes ? "T" : "N"));
      check_case({ta, tb, 7, 13, 29}, 1.0f, 0.0f, 0.0f);
      check_case({ta, tb, 70, 65, 130}, 0.5f, 1.0f, 0.0f);
      check_case({ta, tb, 1, 300, 17}, -2.0f, 0.25f, 0.0f);
    }
  }
}

TEST_P(CpuGemm, BetaZeroDoesNotReadC) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  check_case({Trans::No, Trans::Yes, 20, 40, 33}, 1.0f, 0.0f, nan);
  check_case({Trans::Yes, Trans::No, 40, 20, 33}, 1.0f, 0.0f, nan);
}

TEST_P(CpuGemm, EmptyInnerDimensionScalesC) {
  check_case({Trans::No, Trans::No, 5, 6, 0}, 1.0f, 0.5f, 0.0f);
  check_case({Trans::No, Trans::No, 5, 6, 0}, 1.0f, 0.0f, 0.0f);
}

INSTANTIATE_TEST_SUITE_P(Backends, CpuGemm, ::testing::ValuesIn(built_backends()),
                         [](const ::testing::TestParamInfo<GemmBackend>& info) {
                           return std::string(gemm_backend_name(info.param));
                         });

TEST(CpuGemmBackend, ReportedByBlasInfo) {
  GemmBackendGuard guard;
  set_cpu_gemm_backend(GemmBackend::OpenBLAS);
  EXPECT_NE(blas_info().find("GEMM on OpenBLAS"), std::string::npos) << blas_info();
#ifdef CAFFE_USE_DNNL
  set_cpu_gemm_backend(GemmBackend::OneDNN);
  EXPECT_NE(blas_info().find("GEMM on oneDNN"), std::string::npos) << blas_info();
#else
  EXPECT_THROW(set_cpu_gemm_backend(GemmBackend::OneDNN), Error);
#endif
}

}  // namespace
}  // namespace caffe
