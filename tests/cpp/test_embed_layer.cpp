#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caffe/util/math_functions.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

// A 5-word vocabulary embedded in 3 dimensions, with random weights and bias.
std::string embed_text(bool bias_term = true) {
  return std::string(R"(name: "embed" type: "Embed" embed_param { num_output: 3 input_dim: 5 )") +
         "bias_term: " + (bias_term ? "true" : "false") +
         R"( weight_filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 } })";
}

void expect_lookup(const LayerFixture& f, bool bias_term) {
  const Blob& ids = *f.bottom.ptrs[0];
  const float* weight = f.layer->blobs()[0]->cpu_data();
  const float* top = f.top_data();
  for (int p = 0; p < ids.count(); ++p) {
    const int id = static_cast<int>(ids.cpu_data()[p]);
    for (int j = 0; j < 3; ++j) {
      const float bias = bias_term ? f.layer->blobs()[1]->cpu_data()[j] : 0.0f;
      EXPECT_FLOAT_EQ(top[p * 3 + j], weight[id * 3 + j] + bias) << "position " << p << " " << j;
    }
  }
}

TEST(EmbedLayerTest, LooksUpRowsPlusBias) {
  LayerFixture f(embed_text(), {{2, 3}}, 1);
  test::set_values(f.bottom.ptrs[0], {4, 0, 2, 2, 1, 3});
  f.setup();
  ASSERT_EQ(f.layer->blobs().size(), 2u);
  EXPECT_EQ(f.layer->blobs()[0]->shape(), (std::vector<int>{5, 3}));
  EXPECT_EQ(f.layer->blobs()[1]->shape(), (std::vector<int>{3}));
  f.forward();
  EXPECT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 3, 3}));
  expect_lookup(f, true);
}

TEST(EmbedLayerTest, WithoutBias) {
  LayerFixture f(embed_text(false), {{4}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 4, 4, 1});
  f.setup();
  ASSERT_EQ(f.layer->blobs().size(), 1u);
  f.forward();
  EXPECT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{4, 3}));
  expect_lookup(f, false);
}

// The layer is linear in W and b, so the exact gradient is known: dW[r] = Σ_{p: id_p = r} dtop[p]
// (repeated ids add up), db = Σ_p dtop[p], both added to what the diffs already hold.
TEST(EmbedLayerTest, GradientScatterAddsAndAccumulates) {
  LayerFixture f(embed_text(), {{2, 4}}, 1);
  const std::vector<float> ids = {1, 3, 1, 0, 3, 3, 4, 1};
  test::set_values(f.bottom.ptrs[0], ids);
  f.setup();
  f.forward();
  Blob& top = *f.top.ptrs[0];
  test::fill_gaussian(top.mutable_cpu_diff(), top.count(), 7);
  Blob& weight = *f.layer->blobs()[0];
  Blob& bias = *f.layer->blobs()[1];
  const float previous = 0.5f;  // parameter gradients accumulate onto this
  cpu_set(weight.count(), previous, weight.mutable_cpu_diff());
  cpu_set(bias.count(), previous, bias.mutable_cpu_diff());
  f.backward({false});

  std::vector<double> expected_weight(weight.count(), previous);
  std::vector<double> expected_bias(bias.count(), previous);
  for (size_t p = 0; p < ids.size(); ++p) {
    for (int j = 0; j < 3; ++j) {
      expected_weight[static_cast<int>(ids[p]) * 3 + j] += top.cpu_diff()[p * 3 + j];
      expected_bias[j] += top.cpu_diff()[p * 3 + j];
    }
  }
  for (int i = 0; i < weight.count(); ++i) {
    EXPECT_NEAR(weight.cpu_diff()[i], expected_weight[i], 1e-5) << "weight " << i;
  }
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(bias.cpu_diff()[j], expected_bias[j], 1e-5) << j;
  // Row 2 was never looked up: its gradient is untouched.
  for (int j = 0; j < 3; ++j) EXPECT_EQ(weight.cpu_diff()[2 * 3 + j], previous);
}

TEST(EmbedLayerTest, FrozenParamsGetNoGradient) {
  LayerFixture f(embed_text(), {{3}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 1, 2});
  f.setup();
  f.forward();
  test::fill_gaussian(f.top.ptrs[0]->mutable_cpu_diff(), f.top.ptrs[0]->count(), 3);
  f.layer->set_param_propagate_down(0, false);
  f.layer->set_param_propagate_down(1, false);
  Blob& weight = *f.layer->blobs()[0];
  cpu_set(weight.count(), 0.0f, weight.mutable_cpu_diff());
  f.backward({false});
  EXPECT_EQ(weight.asum_diff(), 0.0f);
}

TEST(EmbedLayerTest, BadIdsAreErrorsWithValueAndPosition) {
  struct Case {
    float id;
    const char* shown;
  };
  for (const Case& bad : {Case{5, "id 5 "}, Case{-1, "id -1 "}, Case{2.5f, "id 2.5 "}}) {
    LayerFixture f(embed_text(), {{2, 2}}, 1);
    test::set_values(f.bottom.ptrs[0], {0, 1, bad.id, 3});
    f.setup();
    test::expect_error([&] { f.forward(); },
                       {"layer 'embed' (Embed)", bad.shown, "at position 2", "[0, input_dim = 5)"});
  }
}

TEST(EmbedLayerTest, NoGradientForIds) {
  LayerFixture f(embed_text(), {{2}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 1});
  f.setup();
  f.forward();
  EXPECT_FALSE(f.layer->AllowForceBackward(0));
  test::expect_error([&] { f.backward({true}); }, {"ids", "propagate_down: false"});
}

TEST(EmbedLayerTest, SettingsAndLoadedBlobsAreChecked) {
  LayerFixture no_input_dim(R"(type: "Embed" embed_param { num_output: 3 })", {{2}}, 1);
  test::expect_error([&] { no_input_dim.setup(); }, {"input_dim"});
  LayerFixture no_output(R"(type: "Embed" embed_param { input_dim: 3 })", {{2}}, 1);
  test::expect_error([&] { no_output.setup(); }, {"num_output"});
  // Parameter blobs given with the layer (as from a .caffemodel), the weights one row short.
  LayerParameter with_blobs = test::layer_param(embed_text());
  Blob({4, 3}).ToProto(with_blobs.add_blobs());
  Blob({3}).ToProto(with_blobs.add_blobs());
  LayerFixture loaded(embed_text(), {{2}}, 1);
  loaded.layer = LayerRegistry::Create(with_blobs);
  test::expect_error([&] { loaded.setup(); }, {"weight blob", "has shape 4 3 (12)", "expected [input_dim, num_output] = 5 3"});
}

TEST(EmbedLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  // 24 ids over 5 rows: many repeats exercise the atomic scatter-add.
  test::check_gpu_matches_cpu(embed_text(), {{4, 6}},
                              [](BlobVec& bottom) { test::fill_labels(bottom[0], 5, 11); });
}

}  // namespace
}  // namespace caffe
