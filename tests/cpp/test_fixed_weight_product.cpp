// FixedWeightProduct (caffe/util/fixed_weight_product.hpp): every storage of A and W, beta 0 and
// 1, several A against one prepared W, a re-prepared W, and a thread-count change, against a
// double-precision product; the GPU against the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/common.hpp"
#include "caffe/util/fixed_weight_product.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

struct ProductCase {
  Trans trans_a;
  int M, N, K;
  Trans trans_w;
  float beta;
};

// Element (r, c) of a row-major [rows, cols] matrix, or with Trans::Yes of the transpose of a
// row-major [cols, rows] one.
float element(const std::vector<float>& values, int rows, int cols, Trans trans, int r, int c) {
  return trans == Trans::Yes ? values[static_cast<size_t>(c) * rows + r]
                             : values[static_cast<size_t>(r) * cols + c];
}

std::vector<float> gaussian(int count, uint64_t seed) {
  std::vector<float> values(count);
  test::fill_gaussian(values.data(), count, seed);
  return values;
}

// C = op(A) · op(W) + beta · C in double.
std::vector<double> reference(const ProductCase& p, const std::vector<float>& a,
                              const std::vector<float>& w, const std::vector<float>& c) {
  std::vector<double> out(static_cast<size_t>(p.M) * p.N);
  for (int m = 0; m < p.M; ++m) {
    for (int n = 0; n < p.N; ++n) {
      double sum = p.beta * static_cast<double>(c[m * p.N + n]);
      for (int k = 0; k < p.K; ++k) {
        sum += static_cast<double>(element(a, p.M, p.K, p.trans_a, m, k)) *
               element(w, p.K, p.N, p.trans_w, k, n);
      }
      out[m * p.N + n] = sum;
    }
  }
  return out;
}

void expect_close(const float* actual, const std::vector<double>& expected, double tolerance,
                  const std::string& what) {
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], tolerance) << what << " element " << i;
  }
}

class FixedWeightProductCases : public ::testing::TestWithParam<ProductCase> {};

TEST_P(FixedWeightProductCases, MatchesTheProductForSeveralAAndAFreshW) {
  const ProductCase& p = GetParam();
  FixedWeightProduct product;
  std::vector<float> w = gaussian(p.K * p.N, 1);
  product.Prepare(Mode::CPU, p.trans_a, p.M, p.N, p.K, p.trans_w, w.data(), p.beta);
  for (uint64_t seed : {2, 3}) {  // several A against the one W
    const std::vector<float> a = gaussian(p.M * p.K, seed);
    std::vector<float> c = gaussian(p.M * p.N, seed + 10);
    const std::vector<double> expected = reference(p, a, w, c);
    product.Run(a.data(), c.data());
    expect_close(c.data(), expected, 1e-4 * std::sqrt(p.K), "seed " + std::to_string(seed));
  }
  // New values in W take effect at the next Prepare.
  w = gaussian(p.K * p.N, 4);
  product.Prepare(Mode::CPU, p.trans_a, p.M, p.N, p.K, p.trans_w, w.data(), p.beta);
  const std::vector<float> a = gaussian(p.M * p.K, 5);
  std::vector<float> c = gaussian(p.M * p.N, 6);
  const std::vector<double> expected = reference(p, a, w, c);
  product.Run(a.data(), c.data());
  expect_close(c.data(), expected, 1e-4 * std::sqrt(p.K), "new W");
}

const ProductCase kCases[] = {
    // The LSTM's forward step (W_hc stored [4H, H]), backward step and W_hc gradient.
    {Trans::No, 20, 4 * 37, 37, Trans::Yes, 1.0f},
    {Trans::No, 20, 37, 4 * 37, Trans::No, 0.0f},
    {Trans::Yes, 4 * 37, 37, 70, Trans::No, 1.0f},
    // Odd sizes, one row, and the remaining storage combinations.
    {Trans::No, 1, 5, 3, Trans::No, 1.0f},
    {Trans::Yes, 3, 7, 5, Trans::Yes, 0.0f},
    {Trans::No, 17, 33, 65, Trans::Yes, 0.0f},
};

INSTANTIATE_TEST_SUITE_P(Shapes, FixedWeightProductCases, ::testing::ValuesIn(kCases));

TEST(FixedWeightProductTest, ThreadCountChangeBetweenPrepares) {
  const test::ThreadCountGuard guard;
  const ProductCase p{Trans::No, 20, 96, 48, Trans::Yes, 1.0f};
  FixedWeightProduct product;
  const std::vector<float> w = gaussian(p.K * p.N, 7);
  const std::vector<float> a = gaussian(p.M * p.K, 8);
  for (int threads : {1, 2, 1}) {
    set_blas_threads(threads);
    product.Prepare(Mode::CPU, p.trans_a, p.M, p.N, p.K, p.trans_w, w.data(), p.beta);
    std::vector<float> c = gaussian(p.M * p.N, 9);
    const std::vector<double> expected = reference(p, a, w, c);
    product.Run(a.data(), c.data());
    expect_close(c.data(), expected, 1e-3, "threads " + std::to_string(threads));
  }
}

TEST(FixedWeightProductTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const ProductCase p{Trans::No, 20, 96, 48, Trans::Yes, 1.0f};
  Blob w({p.N, p.K}), a({p.M, p.K}), c({p.M, p.N}), c_gpu({p.M, p.N});
  test::fill_gaussian(&w, 1);
  test::fill_gaussian(&a, 2);
  test::fill_gaussian(&c, 3);
  std::copy(c.cpu_data(), c.cpu_data() + c.count(), c_gpu.mutable_cpu_data());
  FixedWeightProduct cpu, gpu;
  cpu.Prepare(Mode::CPU, p.trans_a, p.M, p.N, p.K, p.trans_w, w.cpu_data(), p.beta);
  cpu.Run(a.cpu_data(), c.mutable_cpu_data());
  gpu.Prepare(Mode::GPU, p.trans_a, p.M, p.N, p.K, p.trans_w, w.gpu_data(), p.beta);
  gpu.Run(a.gpu_data(), c_gpu.mutable_gpu_data());
  for (int i = 0; i < c.count(); ++i) {
    EXPECT_NEAR(c_gpu.cpu_data()[i], c.cpu_data()[i], 1e-4) << i;
  }
}

}  // namespace
}  // namespace caffe
