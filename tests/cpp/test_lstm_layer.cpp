#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "caffe/util/math_functions.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

constexpr int kD = 4;  // input values per step and stream
constexpr int kH = 3;  // hidden units, unless a case says otherwise
constexpr int kG = 4 * kH;

struct LstmCase {
  int T;
  int N;
  int static_size;  // D_s; 0: no static input
  bool expose;      // expose_hidden
  int H = kH;       // wider than 16 takes the host's vectorised loop body, not only its tail
};

void PrintTo(const LstmCase& c, std::ostream* out) {
  *out << "T=" << c.T << " N=" << c.N << " static=" << c.static_size << (c.expose ? " expose" : "")
       << " H=" << c.H;
}

std::string lstm_text(bool expose, int H = kH) {
  return std::string(R"(name: "lstm" type: "LSTM" recurrent_param { )") +
         "num_output: " + std::to_string(H) + " " +
         R"(weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } )" +
         "expose_hidden: " + (expose ? "true" : "false") + " }";
}

std::vector<std::vector<int>> bottom_shapes(const LstmCase& c) {
  // x as T x N x 2 x 2: D is the product of the axes after the first two.
  std::vector<std::vector<int>> shapes{{c.T, c.N, 2, 2}, {c.T, c.N}};
  if (c.static_size > 0) shapes.push_back({c.N, c.static_size});
  if (c.expose) {
    shapes.push_back({1, c.N, c.H});
    shapes.push_back({1, c.N, c.H});
  }
  return shapes;
}

// cont: 0 at t = 0 for stream 0 only, and mid-sequence starts where (t + n) % 3 == 0.
float default_cont(int t, int n) { return t == 0 ? (n == 0 ? 0.0f : 1.0f) : ((t + n) % 3 ? 1.0f : 0.0f); }

// Random inputs for every bottom except cont, which follows `cont`.
void fill_inputs(const LstmCase& c, BlobVec& bottom, float (*cont)(int, int) = default_cont,
                 uint64_t seed = 5) {
  test::fill_gaussian(bottom[0], seed);
  float* cont_data = bottom[1]->mutable_cpu_data();
  for (int t = 0; t < c.T; ++t) {
    for (int n = 0; n < c.N; ++n) cont_data[t * c.N + n] = cont(t, n);
  }
  for (size_t b = 2; b < bottom.size(); ++b) test::fill_gaussian(bottom[b], seed + b, 0.0f, 0.7f);
}

struct LstmHarness {
  LstmCase c;
  std::unique_ptr<Layer> layer;
  test::BlobSet bottom, top;

  explicit LstmHarness(const LstmCase& lstm_case)
      : c(lstm_case), layer(test::make_layer(lstm_text(c.expose, c.H))) {
    for (const auto& shape : bottom_shapes(c)) bottom.add(shape);
    for (int t = 0; t < (c.expose ? 3 : 1); ++t) top.add({});
  }
  void setup() { layer->SetUp(bottom.ptrs, top.ptrs); }
  void forward() { layer->Forward(bottom.ptrs, top.ptrs); }
  const Blob& h() const { return *top.ptrs[0]; }
  void copy_weights_from(const Layer& other) {
    for (size_t j = 0; j < other.blobs().size(); ++j) {
      const Blob& source = *other.blobs()[j];
      std::copy(source.cpu_data(), source.cpu_data() + source.count(),
                layer->blobs()[j]->mutable_cpu_data());
    }
  }
};

// A layer whose parameter blobs come with the LayerParameter (as from a .caffemodel), filled
// with `value`.
std::unique_ptr<Layer> layer_with_blobs(const std::string& text,
                                        const std::vector<std::vector<int>>& shapes, float value) {
  LayerParameter param = test::layer_param(text);
  for (const auto& shape : shapes) {
    Blob blob(shape);
    cpu_set(blob.count(), value, blob.mutable_cpu_data());
    blob.ToProto(param.add_blobs());
  }
  return LayerRegistry::Create(param);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The LSTM equations written out directly, in double precision.
struct Reference {
  std::vector<double> h;      // [T, N, H]
  std::vector<double> final_h;  // [N, H]
  std::vector<double> final_c;  // [N, H]
};

Reference reference_lstm(const LstmHarness& run, const std::vector<double>& h0,
                         const std::vector<double>& c0) {
  const LstmCase& c = run.c;
  const auto& params = run.layer->blobs();
  const float* w_x = params[0]->cpu_data();
  const float* b = params[1]->cpu_data();
  const float* w_s = c.static_size > 0 ? params[2]->cpu_data() : nullptr;
  const float* w_h = params.back()->cpu_data();
  const float* x = run.bottom.ptrs[0]->cpu_data();
  const float* cont = run.bottom.ptrs[1]->cpu_data();
  const float* x_s = c.static_size > 0 ? run.bottom.ptrs[2]->cpu_data() : nullptr;

  Reference out;
  const int H = c.H;
  out.h.assign(c.T * c.N * H, 0.0);
  std::vector<double> h = h0, cell = c0;
  for (int t = 0; t < c.T; ++t) {
    std::vector<double> next_h(c.N * H), next_c(c.N * H);
    for (int n = 0; n < c.N; ++n) {
      const double keep = cont[t * c.N + n];
      std::vector<double> a(4 * H);
      for (int j = 0; j < 4 * H; ++j) {
        a[j] = b[j];
        for (int d = 0; d < kD; ++d) a[j] += w_x[j * kD + d] * x[(t * c.N + n) * kD + d];
        for (int e = 0; e < c.static_size; ++e) {
          a[j] += w_s[j * c.static_size + e] * x_s[n * c.static_size + e];
        }
        for (int k = 0; k < H; ++k) a[j] += w_h[j * H + k] * keep * h[n * H + k];
      }
      for (int k = 0; k < H; ++k) {
        const double i = sigmoid(a[k]), f = sigmoid(a[H + k]), o = sigmoid(a[2 * H + k]);
        const double g = std::tanh(a[3 * H + k]);
        next_c[n * H + k] = f * keep * cell[n * H + k] + i * g;
        next_h[n * H + k] = o * std::tanh(next_c[n * H + k]);
        out.h[(t * c.N + n) * H + k] = next_h[n * H + k];
      }
    }
    h = next_h;
    cell = next_c;
  }
  out.final_h = h;
  out.final_c = cell;
  return out;
}

void expect_values(const float* actual, const std::vector<double>& expected, const std::string& what,
                   double tolerance = 1e-5) {
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance) << what << " element " << i;
  }
}

std::vector<double> blob_values(const Blob& blob) {
  return std::vector<double>(blob.cpu_data(), blob.cpu_data() + blob.count());
}

// ----- forward equations -----

class LstmEquations : public ::testing::TestWithParam<LstmCase> {};

TEST_P(LstmEquations, MatchTheReference) {
  LstmHarness run(GetParam());
  const LstmCase& c = run.c;
  fill_inputs(c, run.bottom.ptrs);
  run.setup();
  const size_t expected_params = c.static_size > 0 ? 4 : 3;
  ASSERT_EQ(run.layer->blobs().size(), expected_params);
  const int G = 4 * c.H;
  EXPECT_EQ(run.layer->blobs()[0]->shape(), (std::vector<int>{G, kD}));
  EXPECT_EQ(run.layer->blobs()[1]->shape(), (std::vector<int>{G}));
  if (c.static_size > 0) {
    EXPECT_EQ(run.layer->blobs()[2]->shape(), (std::vector<int>{G, c.static_size}));
  }
  EXPECT_EQ(run.layer->blobs().back()->shape(), (std::vector<int>{G, c.H}));

  run.forward();
  ASSERT_EQ(run.h().shape(), (std::vector<int>{c.T, c.N, c.H}));
  // Without expose_hidden the first call starts from zero.
  std::vector<double> h0(c.N * c.H, 0.0), c0(c.N * c.H, 0.0);
  if (c.expose) {
    const int first = c.static_size > 0 ? 3 : 2;
    h0 = blob_values(*run.bottom.ptrs[first]);
    c0 = blob_values(*run.bottom.ptrs[first + 1]);
  }
  const Reference expected = reference_lstm(run, h0, c0);
  expect_values(run.h().cpu_data(), expected.h, "h");
  if (c.expose) {
    ASSERT_EQ(run.top.ptrs[1]->shape(), (std::vector<int>{1, c.N, c.H}));
    ASSERT_EQ(run.top.ptrs[2]->shape(), (std::vector<int>{1, c.N, c.H}));
    expect_values(run.top.ptrs[1]->cpu_data(), expected.final_h, "h_T");
    expect_values(run.top.ptrs[2]->cpu_data(), expected.final_c, "c_T");
  }
}

const LstmCase kCases[] = {
    {3, 2, 0, false}, {4, 3, 0, false}, {5, 2, 2, false},     {3, 3, 3, false},    {4, 2, 0, true},
    {5, 3, 2, true},  {1, 2, 0, true},  {4, 3, 0, false, 37}, {5, 2, 2, true, 37},
};

INSTANTIATE_TEST_SUITE_P(Shapes, LstmEquations, ::testing::ValuesIn(kCases));

// ----- state across calls -----

// x and cont of steps [begin, end) of `from` (same N, D).
void copy_steps(const LstmHarness& from, int begin, int end, LstmHarness& to) {
  const int N = from.c.N;
  ASSERT_EQ(to.c.T, end - begin);
  std::copy(from.bottom.ptrs[0]->cpu_data() + begin * N * kD,
            from.bottom.ptrs[0]->cpu_data() + end * N * kD, to.bottom.ptrs[0]->mutable_cpu_data());
  std::copy(from.bottom.ptrs[1]->cpu_data() + begin * N, from.bottom.ptrs[1]->cpu_data() + end * N,
            to.bottom.ptrs[1]->mutable_cpu_data());
  if (from.c.static_size > 0) {
    std::copy(from.bottom.ptrs[2]->cpu_data(),
              from.bottom.ptrs[2]->cpu_data() + from.bottom.ptrs[2]->count(),
              to.bottom.ptrs[2]->mutable_cpu_data());
  }
}

float all_continue(int t, int n) { return t == 0 && n == 1 ? 0.0f : 1.0f; }

TEST(LstmLayerTest, StateCarriesAcrossForwardCalls) {
  for (int static_size : {0, 2}) {
    // One call over 5 steps versus calls over steps [0, 2) and [2, 5) of the same layer.
    LstmHarness whole({5, 3, static_size, false});
    fill_inputs(whole.c, whole.bottom.ptrs, all_continue);
    whole.setup();
    whole.forward();

    LstmHarness first({2, 3, static_size, false}), second({3, 3, static_size, false});
    copy_steps(whole, 0, 2, first);
    copy_steps(whole, 2, 5, second);
    first.setup();
    first.copy_weights_from(*whole.layer);
    first.forward();
    // The same layer object continues on the next chunk (T changes from 2 to 3).
    first.layer->Forward(second.bottom.ptrs, second.top.ptrs);

    const int chunk = 3 * kH;  // values per step
    for (int i = 0; i < 2 * chunk; ++i) {
      EXPECT_NEAR(first.h().cpu_data()[i], whole.h().cpu_data()[i], 1e-6) << "step 0-1 element " << i;
    }
    for (int i = 0; i < 3 * chunk; ++i) {
      EXPECT_NEAR(second.h().cpu_data()[i], whole.h().cpu_data()[2 * chunk + i], 1e-6)
          << "step 2-4 element " << i;
    }
  }
}

float reset_at_three(int t, int /*n*/) { return t == 3 ? 0.0f : 1.0f; }

TEST(LstmLayerTest, ContZeroMidSequenceResetsTheState) {
  LstmHarness whole({5, 2, 0, false});
  fill_inputs(whole.c, whole.bottom.ptrs, reset_at_three);
  whole.setup();
  whole.forward();  // a first pass leaves a non-zero state behind...
  whole.forward();  // ...which this pass continues from until the reset at t = 3

  LstmHarness tail({2, 2, 0, false});
  copy_steps(whole, 3, 5, tail);
  tail.setup();
  tail.copy_weights_from(*whole.layer);
  tail.forward();  // a fresh layer: zero state
  const int chunk = 2 * kH;
  for (int i = 0; i < 2 * chunk; ++i) {
    EXPECT_NEAR(tail.h().cpu_data()[i], whole.h().cpu_data()[3 * chunk + i], 1e-6) << i;
  }
  // Before the reset the carried state matters: the two passes differ at t = 0.
  LstmHarness fresh({5, 2, 0, false});
  copy_steps(whole, 0, 5, fresh);
  fresh.setup();
  fresh.copy_weights_from(*whole.layer);
  fresh.forward();
  EXPECT_GT(std::fabs(fresh.h().cpu_data()[0] - whole.h().cpu_data()[0]), 1e-4);
}

TEST(LstmLayerTest, ExposedHiddenChainsLikeTheCarriedState) {
  // Feeding h_T, c_T of one call as h_0, c_0 of the next equals the internal carry.
  LstmHarness carried({4, 2, 0, false});
  fill_inputs(carried.c, carried.bottom.ptrs, all_continue);
  carried.setup();
  carried.forward();
  carried.forward();

  LstmHarness exposed({4, 2, 0, true});
  copy_steps(carried, 0, 4, exposed);
  cpu_set(exposed.bottom.ptrs[2]->count(), 0.0f, exposed.bottom.ptrs[2]->mutable_cpu_data());
  cpu_set(exposed.bottom.ptrs[3]->count(), 0.0f, exposed.bottom.ptrs[3]->mutable_cpu_data());
  exposed.setup();
  exposed.copy_weights_from(*carried.layer);
  exposed.forward();
  for (int s = 2; s < 4; ++s) {
    Blob& state = *exposed.bottom.ptrs[s];
    std::copy(exposed.top.ptrs[s - 1]->cpu_data(),
              exposed.top.ptrs[s - 1]->cpu_data() + state.count(), state.mutable_cpu_data());
  }
  exposed.forward();
  for (int i = 0; i < exposed.h().count(); ++i) {
    EXPECT_NEAR(exposed.h().cpu_data()[i], carried.h().cpu_data()[i], 1e-6) << i;
  }
}

// ----- gradients -----

// Every stream starts a sequence at t = 0, so each forward is a pure function of its inputs.
float restart_at_zero(int t, int n) { return t == 0 || (t + n) % 3 == 0 ? 0.0f : 1.0f; }

class LstmGradients : public ::testing::TestWithParam<LstmCase> {};

TEST_P(LstmGradients, MatchCentralDifferences) {
  LstmHarness run(GetParam());
  fill_inputs(run.c, run.bottom.ptrs, run.c.expose ? default_cont : restart_at_zero);
  run.setup();
  test::GradientCheckOptions options;
  for (int b = 0; b < static_cast<int>(run.bottom.ptrs.size()); ++b) {
    if (b != 1) options.bottoms_to_check.push_back(b);  // cont takes no gradient
  }
  test::check_gradients(*run.layer, run.bottom.ptrs, run.top.ptrs, options);
}

const LstmCase kGradientCases[] = {
    {3, 2, 0, false}, {4, 3, 2, false}, {3, 2, 0, true}, {4, 2, 2, true}, {3, 2, 0, true, 20},
};

INSTANTIATE_TEST_SUITE_P(Shapes, LstmGradients, ::testing::ValuesIn(kGradientCases));

TEST(LstmLayerTest, ParamGradientsAccumulate) {
  LstmHarness run({3, 2, 2, false});
  fill_inputs(run.c, run.bottom.ptrs, restart_at_zero);
  run.setup();
  run.forward();
  test::fill_gaussian(run.top.ptrs[0]->mutable_cpu_diff(), run.top.ptrs[0]->count(), 9);
  for (auto& param : run.layer->blobs()) cpu_set(param->count(), 0.0f, param->mutable_cpu_diff());
  const std::vector<bool> propagate_down{true, false, true};
  run.layer->Backward(run.top.ptrs, propagate_down, run.bottom.ptrs);
  std::vector<std::vector<float>> once;
  for (auto& param : run.layer->blobs()) {
    once.emplace_back(param->cpu_diff(), param->cpu_diff() + param->count());
  }
  run.layer->Backward(run.top.ptrs, propagate_down, run.bottom.ptrs);
  for (size_t j = 0; j < once.size(); ++j) {
    ASSERT_GT(run.layer->blobs()[j]->asum_diff(), 0.0f) << "param " << j;
    for (size_t i = 0; i < once[j].size(); ++i) {
      EXPECT_NEAR(run.layer->blobs()[j]->cpu_diff()[i], 2 * once[j][i], 1e-5) << j << " " << i;
    }
  }
}

// ----- errors -----

TEST(LstmLayerTest, ShapeAndSettingErrors) {
  test::LayerFixture bad_cont(lstm_text(false), {{3, 2, 4}, {3, 3}}, 1);
  test::expect_error([&] { bad_cont.setup(); }, {"layer 'lstm' (LSTM)", "cont (bottom 1)"});
  test::LayerFixture bad_static(lstm_text(false), {{3, 2, 4}, {3, 2}, {3, 5}}, 1);
  test::expect_error([&] { bad_static.setup(); }, {"static input (bottom 2)"});
  test::LayerFixture bad_state(lstm_text(true), {{3, 2, 4}, {3, 2}, {1, 2, 4}, {1, 2, 3}}, 3);
  test::expect_error([&] { bad_state.setup(); }, {"h_0 (bottom 2)"});
  test::LayerFixture too_few_tops(lstm_text(true), {{3, 2, 4}, {3, 2}, {1, 2, 3}, {1, 2, 3}}, 1);
  test::expect_error([&] { too_few_tops.setup(); }, {"exactly 3 top"});
  test::LayerFixture no_output(R"(type: "LSTM")", {{3, 2, 4}, {3, 2}}, 1);
  test::expect_error([&] { no_output.setup(); }, {"num_output"});

  // D changes after setup.
  LstmHarness run({3, 2, 0, false});
  run.setup();
  run.bottom.ptrs[0]->Reshape({3, 2, 5});
  test::expect_error([&] { run.forward(); }, {"4 values per step"});
}

TEST(LstmLayerTest, NoGradientForCont) {
  LstmHarness run({3, 2, 0, false});
  fill_inputs(run.c, run.bottom.ptrs);
  run.setup();
  run.forward();
  EXPECT_FALSE(run.layer->AllowForceBackward(1));
  EXPECT_TRUE(run.layer->AllowForceBackward(0));
  test::expect_error([&] { run.layer->Backward(run.top.ptrs, {true, true}, run.bottom.ptrs); },
                     {"cont", "propagate_down: false"});
}

TEST(LstmLayerTest, LoadedBlobsAreCheckedAndKept) {
  LstmHarness wrong({3, 2, 0, false});
  wrong.layer = layer_with_blobs(lstm_text(false), {{kG, kD}, {kG}, {kG, kD}}, 0.5f);
  test::expect_error([&] { wrong.setup(); }, {"parameter blob 2", "12 3 (36)", "W_hc"});
  LstmHarness missing({3, 2, 2, false});
  missing.layer = layer_with_blobs(lstm_text(false), {{kG, kD}, {kG}, {kG, kH}}, 0.5f);
  test::expect_error([&] { missing.setup(); }, {"gives 3 parameter blob(s)", "W_xc_static"});

  LstmHarness loaded({3, 2, 2, false});
  loaded.layer = layer_with_blobs(lstm_text(false), {{kG, kD}, {kG}, {kG, 2}, {kG, kH}}, 0.25f);
  loaded.setup();
  for (const auto& param : loaded.layer->blobs()) {
    EXPECT_FLOAT_EQ(param->asum_data(), 0.25f * param->count());  // not refilled
  }
}

// ----- GPU -----

TEST(LstmLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  for (const LstmCase& c : {LstmCase{5, 3, 0, false}, LstmCase{4, 3, 2, false},
                            LstmCase{4, 2, 2, true}}) {
    test::check_gpu_matches_cpu(lstm_text(c.expose), bottom_shapes(c),
                                [c](BlobVec& bottom) { fill_inputs(c, bottom); });
  }
}

TEST(LstmLayerTest, GpuCarriesStateLikeCpu) {
  SKIP_IF_NO_GPU();
  const LstmCase c{4, 3, 0, false};
  LstmHarness cpu(c), gpu(c);
  fill_inputs(c, cpu.bottom.ptrs, all_continue);
  fill_inputs(c, gpu.bottom.ptrs, all_continue);
  cpu.setup();
  gpu.setup();
  gpu.copy_weights_from(*cpu.layer);
  cpu.forward();
  cpu.forward();
  {
    test::GpuModeScope scope;
    gpu.forward();
    gpu.forward();
  }
  for (int i = 0; i < cpu.h().count(); ++i) {
    EXPECT_NEAR(gpu.h().cpu_data()[i], cpu.h().cpu_data()[i], 1e-5) << i;
  }
}

TEST(LstmLayerTest, GpuGradientCheck) {
  SKIP_IF_NO_GPU();
  LstmHarness run({3, 2, 2, true});
  fill_inputs(run.c, run.bottom.ptrs);
  run.setup();
  test::GradientCheckOptions options;
  options.bottoms_to_check = {0, 2, 3, 4};
  test::GpuModeScope scope;
  test::check_gradients(*run.layer, run.bottom.ptrs, run.top.ptrs, options);
}

}  // namespace
}  // namespace caffe
