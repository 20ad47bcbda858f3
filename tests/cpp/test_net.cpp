// Tests of the Net machinery: phase filtering, Split insertion, in-place blobs, loss weights,
// shared parameters, backward-need analysis, legacy inputs, error messages and weight files.
// The nets are built from small test-only layers defined here, so these tests depend on no
// standard layer except Input (and Split, which a fallback below provides when absent).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/core/net.hpp"
#include "caffe/core/net_rewrite.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::TempDir;
using test::error_of;

// ------------------------------------------------------------------------------------------
// Test-only layers

// y[n, i] = w[i] * x[n, i] + b[i]: a learnable scale and shift for every value of an example.
// The parameters take the shape of one example (the bottom without axis 0).
class TestAffineLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestAffine"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }

  void LayerSetUp(const BlobVec& bottom, const BlobVec& /*top*/) override {
    if (!blobs_.empty()) return;  // given in the layer's `blobs`
    const std::vector<int> example(bottom[0]->shape().begin() + 1, bottom[0]->shape().end());
    for (int j = 0; j < 2; ++j) {
      FillerParameter filler;
      filler.set_type("uniform");
      filler.set_min(j == 0 ? 0.5f : -0.5f);
      filler.set_max(j == 0 ? 1.5f : 0.5f);
      blobs_.push_back(std::make_shared<Blob>(example));
      fill_blob(filler, blobs_[j].get(), filler_stream(name(), j));
    }
  }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    if (bottom[0]->num_axes() < 1 || bottom[0]->count(1) != blobs_[0]->count()) {
      fail("each example of the bottom must have ", blobs_[0]->count(),
           " values (the parameter shape ", blobs_[0]->shape_string(), ")");
    }
    top[0]->ReshapeLike(*bottom[0]);
  }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    const int inner = blobs_[0]->count();
    const float* x = bottom[0]->cpu_data();
    const float* w = blobs_[0]->cpu_data();
    const float* b = blobs_[1]->cpu_data();
    float* y = top[0]->mutable_cpu_data();
    for (int i = 0; i < bottom[0]->count(); ++i) y[i] = w[i % inner] * x[i] + b[i % inner];
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    const int inner = blobs_[0]->count();
    const float* dy = top[0]->cpu_diff();
    const float* x = bottom[0]->cpu_data();
    if (param_propagate_down(0)) {
      float* dw = blobs_[0]->mutable_cpu_diff();
      for (int i = 0; i < top[0]->count(); ++i) dw[i % inner] += dy[i] * x[i];
    }
    if (param_propagate_down(1)) {
      float* db = blobs_[1]->mutable_cpu_diff();
      for (int i = 0; i < top[0]->count(); ++i) db[i % inner] += dy[i];
    }
    if (propagate_down[0]) {
      const float* w = blobs_[0]->cpu_data();
      float* dx = bottom[0]->mutable_cpu_diff();
      for (int i = 0; i < bottom[0]->count(); ++i) dx[i] = w[i % inner] * dy[i];
    }
  }
};
REGISTER_LAYER("TestAffine", TestAffineLayer);

// Loss = sum of bottom 0.  An optional bottom 1 plays the role of a label: it is read by nobody
// and may never receive a gradient.
class TestSumLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestSumLoss"; }
  int MinBottomBlobs() const override { return 1; }
  int MaxBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }
  bool IsLoss() const override { return true; }
  bool AllowForceBackward(int bottom_index) const override { return bottom_index == 0; }
  void Reshape(const BlobVec& /*bottom*/, const BlobVec& top) override { top[0]->Reshape(std::vector<int>{}); }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    const float* x = bottom[0]->cpu_data();
    float sum = 0;
    for (int i = 0; i < bottom[0]->count(); ++i) sum += x[i];
    top[0]->mutable_cpu_data()[0] = sum;
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (propagate_down.size() > 1 && propagate_down[1]) fail("cannot backpropagate to the label");
    if (!propagate_down[0]) return;
    const float dloss = top[0]->cpu_diff()[0];
    float* dx = bottom[0]->mutable_cpu_diff();
    for (int i = 0; i < bottom[0]->count(); ++i) dx[i] = dloss;
  }
};
REGISTER_LAYER("TestSumLoss", TestSumLossLayer);

// top = bottom; runs in place when top and bottom are the same blob.
class TestIdentityLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestIdentity"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
  }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    if (top[0] == bottom[0]) return;
    std::copy_n(bottom[0]->cpu_data(), bottom[0]->count(), top[0]->mutable_cpu_data());
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (!propagate_down[0] || top[0] == bottom[0]) return;
    std::copy_n(top[0]->cpu_diff(), top[0]->count(), bottom[0]->mutable_cpu_diff());
  }
};
REGISTER_LAYER("TestIdentity", TestIdentityLayer);

// top0 = x, top1 = 2 x.  Unnamed tops are created by the Net (AutoTopBlobs).
class TestTwoTopsLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestTwoTops"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 2; }
  bool AutoTopBlobs() const override { return true; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    for (Blob* t : top) t->ReshapeLike(*bottom[0]);
  }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    const float* x = bottom[0]->cpu_data();
    for (int i = 0; i < bottom[0]->count(); ++i) {
      top[0]->mutable_cpu_data()[i] = x[i];
      top[1]->mutable_cpu_data()[i] = 2 * x[i];
    }
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (!propagate_down[0]) return;
    float* dx = bottom[0]->mutable_cpu_diff();
    for (int i = 0; i < bottom[0]->count(); ++i) {
      dx[i] = top[0]->cpu_diff()[i] + 2 * top[1]->cpu_diff()[i];
    }
  }
};
REGISTER_LAYER("TestTwoTops", TestTwoTopsLayer);

// Records the step context the Net hands it.
class TestStepProbeLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestStepProbe"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& /*bottom*/, const BlobVec& top) override { top[0]->Reshape({2}); }

 protected:
  void Forward_cpu(const BlobVec& /*bottom*/, const BlobVec& top) override {
    top[0]->mutable_cpu_data()[0] = static_cast<float>(iteration());
    top[0]->mutable_cpu_data()[1] = static_cast<float>(forward_count());
  }
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}
};
REGISTER_LAYER("TestStepProbe", TestStepProbeLayer);

// Split for builds that do not have the standard Split layer yet: the Net inserts layers of type
// "Split", so these tests need one.  Registered at run time only when missing, so the real layer
// is the one tested once it is linked in.
class TestFallbackSplitLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Split"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    for (Blob* t : top) {
      t->ReshapeLike(*bottom[0]);
      t->ShareData(*bottom[0]);
    }
  }

 protected:
  void Forward_cpu(const BlobVec&, const BlobVec&) override {}
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (!propagate_down[0]) return;
    float* dx = bottom[0]->mutable_cpu_diff();
    std::fill_n(dx, bottom[0]->count(), 0.0f);
    for (const Blob* t : top) {
      for (int i = 0; i < t->count(); ++i) dx[i] += t->cpu_diff()[i];
    }
  }
};

void ensure_split_layer() {
  if (LayerRegistry::Has("Split")) return;
  LayerRegistry::Add("Split", [](const LayerParameter& param) -> std::unique_ptr<Layer> {
    return std::make_unique<TestFallbackSplitLayer>(param);
  });
}

// ------------------------------------------------------------------------------------------
// Helpers

NetParameter parse_net(const std::string& prototxt) {
  NetParameter param;
  read_proto_from_text(prototxt, "<test net>", &param);
  return param;
}

std::unique_ptr<Net> build_net(const std::string& prototxt, Phase phase = TRAIN) {
  NetParameter param = parse_net(prototxt);
  param.mutable_state()->set_phase(phase);
  return std::make_unique<Net>(param);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> layer_types(const NetParameter& param) {
  std::vector<std::string> types;
  for (const LayerParameter& layer : param.layer()) types.push_back(layer.type());
  return types;
}

void write_text(const std::string& path, const std::string& text) {
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(text.c_str(), file);
  std::fclose(file);
}

// Seeds the process-wide stream for one test and restores it after.
struct SeedScope {
  uint64_t saved = random_seed();
  explicit SeedScope(uint64_t seed) { set_random_seed(seed); }
  ~SeedScope() { set_random_seed(saved); }
};

float total_loss(Net& net) {
  float loss = 0;
  net.Forward(&loss);
  return loss;
}

// Compares `blob`'s diff after one ForwardBackward with central differences of the net's loss
// with respect to its data.  Every test layer is linear in each value, so the step is exact up to
// rounding.
void expect_gradient_matches(Net& net, Blob* blob, const std::string& what) {
  net.ClearParamDiffs();
  net.ForwardBackward();
  const std::vector<float> analytic(blob->cpu_diff(), blob->cpu_diff() + blob->count());
  const float step = 1e-2f;
  for (int i = 0; i < blob->count(); ++i) {
    float* value = blob->mutable_cpu_data() + i;
    const float saved = *value;
    *value = saved + step;
    const double plus = total_loss(net);
    *value = saved - step;
    const double minus = total_loss(net);
    *value = saved;
    const double numeric = (plus - minus) / (2 * step);
    EXPECT_NEAR(analytic[i], numeric, 2e-3 * std::max(1.0, std::fabs(numeric)))
        << what << " element " << i;
  }
}

void fill_inputs(Net& net, uint64_t seed) {
  for (Blob* input : net.input_blobs()) test::fill_gaussian(input, seed++);
}

std::vector<float> values_of(const Blob& blob) {
  return {blob.cpu_data(), blob.cpu_data() + blob.count()};
}

std::vector<float> diff_of(const Blob& blob) {
  return {blob.cpu_diff(), blob.cpu_diff() + blob.count()};
}

int layer_index(const Net& net, const std::string& name) {
  const auto& names = net.layer_names();
  return static_cast<int>(std::find(names.begin(), names.end(), name) - names.begin());
}

class NetTest : public testing::Test {
 protected:
  void SetUp() override { ensure_split_layer(); }
};

const char* const kInput = R"(
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
)";

// ------------------------------------------------------------------------------------------
// Phase, level and stage filtering

const char* const kFilteredNet = R"(
  name: "filtered"
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
  layer { name: "train_only" type: "TestIdentity" bottom: "data" top: "t1"
          include { phase: TRAIN } }
  layer { name: "not_train" type: "TestIdentity" bottom: "data" top: "t2"
          exclude { phase: TRAIN } }
  layer { name: "level_1_up" type: "TestIdentity" bottom: "data" top: "t3"
          include { min_level: 1 } }
  layer { name: "level_0_down" type: "TestIdentity" bottom: "data" top: "t4"
          include { max_level: 0 } }
  layer { name: "stage_a" type: "TestIdentity" bottom: "data" top: "t5"
          include { stage: "a" } }
  layer { name: "stages_a_and_b" type: "TestIdentity" bottom: "data" top: "t6"
          include { stage: "a" stage: "b" } }
  layer { name: "not_stage_b" type: "TestIdentity" bottom: "data" top: "t7"
          include { not_stage: "b" } }
  layer { name: "stage_b_or_test" type: "TestIdentity" bottom: "data" top: "t8"
          include { stage: "b" } include { phase: TEST } }
  layer { name: "train_level_2" type: "TestIdentity" bottom: "data" top: "t9"
          include { phase: TRAIN min_level: 2 } }
)";

std::vector<std::string> active_layers(Phase phase, int level, std::vector<std::string> stages) {
  NetParameter param = parse_net(kFilteredNet);
  NetState* state = param.mutable_state();
  state->set_phase(phase);
  state->set_level(level);
  for (const std::string& stage : stages) state->add_stage(stage);
  const NetParameter filtered = filter_net(param);
  std::vector<std::string> names;
  for (const LayerParameter& layer : filtered.layer()) names.push_back(layer.name());
  return names;
}

using Names = std::vector<std::string>;

TEST_F(NetTest, FiltersLayersByPhase) {
  EXPECT_EQ(active_layers(TRAIN, 0, {}), (Names{"data", "train_only", "level_0_down", "not_stage_b"}));
  EXPECT_EQ(active_layers(TEST, 0, {}),
            (Names{"data", "not_train", "level_0_down", "not_stage_b", "stage_b_or_test"}));
}

TEST_F(NetTest, FiltersLayersByLevel) {
  EXPECT_EQ(active_layers(TRAIN, 1, {}), (Names{"data", "train_only", "level_1_up", "not_stage_b"}));
  EXPECT_EQ(active_layers(TRAIN, 2, {}),
            (Names{"data", "train_only", "level_1_up", "not_stage_b", "train_level_2"}));
  EXPECT_EQ(active_layers(TEST, 2, {}),
            (Names{"data", "not_train", "level_1_up", "not_stage_b", "stage_b_or_test"}));
  EXPECT_EQ(active_layers(TRAIN, -1, {}), (Names{"data", "train_only", "level_0_down", "not_stage_b"}));
}

TEST_F(NetTest, FiltersLayersByStage) {
  EXPECT_EQ(active_layers(TRAIN, 0, {"a"}),
            (Names{"data", "train_only", "level_0_down", "stage_a", "not_stage_b"}));
  EXPECT_EQ(active_layers(TRAIN, 0, {"b"}),
            (Names{"data", "train_only", "level_0_down", "stage_b_or_test"}));
  EXPECT_EQ(active_layers(TRAIN, 0, {"b", "a"}),
            (Names{"data", "train_only", "level_0_down", "stage_a", "stages_a_and_b",
                   "stage_b_or_test"}));
}

TEST_F(NetTest, StateRuleChecksEveryCondition) {
  NetState state;
  state.set_phase(TRAIN);
  state.set_level(3);
  state.add_stage("x");
  NetStateRule rule;
  EXPECT_TRUE(state_meets_rule(state, rule));
  rule.set_min_level(3);
  rule.set_max_level(3);
  rule.add_stage("x");
  rule.add_not_stage("y");
  rule.set_phase(TRAIN);
  EXPECT_TRUE(state_meets_rule(state, rule));
  state.add_stage("y");
  EXPECT_FALSE(state_meets_rule(state, rule));
  rule.clear_not_stage();
  EXPECT_TRUE(state_meets_rule(state, rule));
  rule.set_max_level(2);
  EXPECT_FALSE(state_meets_rule(state, rule));
}

TEST_F(NetTest, IncludeAndExcludeTogetherIsAnError) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "both" type: "TestIdentity" bottom: "data" top: "y"
              include { phase: TRAIN } exclude { phase: TEST } })");
  });
  EXPECT_TRUE(contains(message, "'both'")) << message;
  EXPECT_TRUE(contains(message, "include and exclude")) << message;
}

TEST_F(NetTest, PathConstructorSetsPhaseLevelAndStages) {
  TempDir dir;
  // The file's own stages are kept and the constructor's are added, as in Caffe.
  write_text((dir / "net.prototxt"), std::string(kFilteredNet) + "state { stage: \"b\" }\n");
  Net net((dir / "net.prototxt"), TRAIN, 2, {"a"});
  EXPECT_EQ(net.name(), "filtered");
  EXPECT_EQ(net.phase(), TRAIN);
  EXPECT_EQ(net.layer_names(),
            (Names{"data", "data_data_0_split", "train_only", "level_1_up", "stage_a",
                   "stages_a_and_b", "stage_b_or_test", "train_level_2"}));
  Net test_net((dir / "net.prototxt"), TEST);
  EXPECT_EQ(test_net.phase(), TEST);
  EXPECT_EQ(test_net.layer_names(),
            (Names{"data", "data_data_0_split", "not_train", "level_0_down", "stage_b_or_test"}));
}

TEST_F(NetTest, LayersInheritTheNetPhase) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestIdentity" bottom: "data" top: "a" }
    layer { name: "b" type: "TestIdentity" bottom: "data" top: "b" phase: TEST })");
  EXPECT_EQ(net->layer_by_name("a")->phase(), TRAIN);
  EXPECT_EQ(net->layer_by_name("b")->phase(), TEST);
  EXPECT_EQ(build_net(kInput, TEST)->layer_by_name("data")->phase(), TEST);
  // With no state at all a net is built for TEST, as in Caffe.
  EXPECT_EQ(Net(parse_net(kInput)).phase(), TEST);
}

// ------------------------------------------------------------------------------------------
// Split insertion and in-place layers

const char* const kTwoConsumers = R"(
  force_backward: true
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
  layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
  layer { name: "b" type: "TestAffine" bottom: "y" top: "p" }
  layer { name: "c" type: "TestAffine" bottom: "y" top: "q" }
  layer { name: "loss_p" type: "TestSumLoss" bottom: "p" top: "lp" }
  layer { name: "loss_q" type: "TestSumLoss" bottom: "q" top: "lq" loss_weight: 3 }
)";

TEST_F(NetTest, InsertsSplitForBlobWithTwoConsumers) {
  auto net = build_net(kTwoConsumers);
  EXPECT_EQ(net->layer_names(),
            (Names{"data", "a", "y_a_0_split", "b", "c", "loss_p", "loss_q"}));
  const Layer& split = *net->layer_by_name("y_a_0_split");
  EXPECT_STREQ(split.type(), "Split");
  ASSERT_EQ(split.layer_param().top_size(), 2);
  EXPECT_EQ(net->layer_by_name("b")->layer_param().bottom(0), split.layer_param().top(0));
  EXPECT_EQ(net->layer_by_name("c")->layer_param().bottom(0), split.layer_param().top(1));
  // The producer's output is summed from both consumers: dL/dy = w_b + 3 w_c.
  fill_inputs(*net, 3);
  expect_gradient_matches(*net, net->blob_by_name("data"), "data");
  for (const auto& param : net->layer_by_name("a")->blobs()) {
    expect_gradient_matches(*net, param.get(), "producer param");
  }
  net->ClearParamDiffs();
  net->ForwardBackward();
  const float* wb = net->layer_by_name("b")->blobs()[0]->cpu_data();
  const float* wc = net->layer_by_name("c")->blobs()[0]->cpu_data();
  const float* dy = net->blob_by_name("y")->cpu_diff();
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(dy[i], wb[i % 3] + 3 * wc[i % 3], 1e-5) << i;
}

TEST_F(NetTest, NoSplitForSingleConsumer) {
  const NetParameter param = parse_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "loss" type: "TestSumLoss" bottom: "y" top: "l" })");
  EXPECT_EQ(layer_types(insert_splits(param)), (Names{"Input", "TestAffine", "TestSumLoss"}));
  Net net(param);
  EXPECT_EQ(net.layers().size(), 3u);
  EXPECT_EQ(net.blob_names(), (Names{"data", "y", "l"}));
}

TEST_F(NetTest, SplitsOneLayerReadingTheSameBlobTwice) {
  const NetParameter param = parse_net(std::string(kInput) + R"(
    layer { name: "loss" type: "TestSumLoss" bottom: "data" bottom: "data" top: "l" })");
  const NetParameter split = insert_splits(param);
  ASSERT_EQ(layer_types(split), (Names{"Input", "Split", "TestSumLoss"}));
  EXPECT_EQ(split.layer(2).bottom(0), "data_data_0_split_0");
  EXPECT_EQ(split.layer(2).bottom(1), "data_data_0_split_1");
}

TEST_F(NetTest, InPlaceLayerReusesTheBlob) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "id" type: "TestIdentity" bottom: "y" top: "y" }
    layer { name: "loss" type: "TestSumLoss" bottom: "y" top: "l" })");
  EXPECT_EQ(net->blob_names(), (Names{"data", "y", "l"}));
  EXPECT_EQ(net->layers().size(), 4u);  // a single consumer per version: no split
  const int id = layer_index(*net, "id");
  EXPECT_EQ(net->top_vecs()[id][0], net->bottom_vecs()[id][0]);
  EXPECT_EQ(net->top_vecs()[1][0], net->top_vecs()[id][0]);
  fill_inputs(*net, 5);
  expect_gradient_matches(*net, net->layer_by_name("a")->blobs()[0].get(), "w through in-place");
}

TEST_F(NetTest, InPlaceChainReachingNoLossNeedsNoBackward) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "id" type: "TestIdentity" bottom: "y" top: "y" }
    layer { name: "loss" type: "TestSumLoss" bottom: "data" top: "l" })");
  EXPECT_FALSE(net->layer_need_backward()[layer_index(*net, "id")]);
  EXPECT_FALSE(net->layer_need_backward()[layer_index(*net, "a")]);
}

TEST_F(NetTest, InPlaceOnABlobAnotherLayerReadsIsAnError) {
  // As in Caffe: y is split for its two readers, so "id" can no longer update it in place.
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
      layer { name: "loss" type: "TestSumLoss" bottom: "y" top: "l" }
      layer { name: "id" type: "TestIdentity" bottom: "y" top: "y" })");
  });
  EXPECT_TRUE(contains(message, "layer 'id'")) << message;
  EXPECT_TRUE(contains(message, "in place")) << message;
}

TEST_F(NetTest, InPlaceChainCutByPropagateDownSkipsTheProducer) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "id" type: "TestIdentity" bottom: "y" top: "y" }
    layer { name: "b" type: "TestAffine" bottom: "y" top: "z" propagate_down: false }
    layer { name: "loss" type: "TestSumLoss" bottom: "z" top: "l" })");
  EXPECT_EQ(net->layer_need_backward(), (std::vector<bool>{false, false, false, true, true}));
}

TEST_F(NetTest, SplitAfterInPlaceLayerSplitsTheLatestVersion) {
  const NetParameter param = parse_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "id" type: "TestIdentity" bottom: "y" top: "y" }
    layer { name: "b" type: "TestAffine" bottom: "y" top: "p" }
    layer { name: "c" type: "TestAffine" bottom: "y" top: "q" })");
  const NetParameter split = insert_splits(param);
  ASSERT_EQ(split.layer_size(), 6);
  EXPECT_EQ(split.layer(2).bottom(0), "y");  // the in-place layer reads the unsplit version
  EXPECT_EQ(split.layer(3).name(), "y_id_0_split");
  EXPECT_EQ(split.layer(4).bottom(0), "y_id_0_split_0");
  EXPECT_EQ(split.layer(5).bottom(0), "y_id_0_split_1");
  Net net(param);
  EXPECT_EQ(net.output_blob_names(), (Names{"p", "q"}));
}

TEST_F(NetTest, OutputOfATrailingInPlaceLayerIsANetOutput) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "id" type: "TestIdentity" bottom: "y" top: "y" })");
  EXPECT_EQ(net->output_blob_names(), (Names{"y"}));
  ASSERT_EQ(net->output_blobs().size(), 1u);
  EXPECT_EQ(net->output_blobs()[0], net->blob_by_name("y"));
  EXPECT_EQ(net->input_blob_names(), (Names{"data"}));
}

TEST_F(NetTest, OutputsAreListedByNameAsInCaffe) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "z" type: "TestSumLoss" bottom: "data" top: "zloss" }
    layer { name: "m" type: "TestIdentity" bottom: "data" top: "middle" }
    layer { name: "a" type: "TestSumLoss" bottom: "data" top: "aloss" loss_weight: 2 })");
  EXPECT_EQ(net->output_blob_names(), (Names{"aloss", "middle", "zloss"}));
  EXPECT_EQ(net->output_loss_weights(), (std::vector<float>{2, 0, 1}));
}

TEST_F(NetTest, UnconsumedInputIsAnOutput) {
  auto net = build_net(kInput);
  EXPECT_EQ(net->output_blob_names(), (Names{"data"}));
}

TEST_F(NetTest, AutoTopBlobsAreCreated) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "two" type: "TestTwoTops" bottom: "data" top: "first" })");
  EXPECT_EQ(net->blob_names(), (Names{"data", "first", "two_auto_top_1"}));
  ASSERT_EQ(net->top_vecs()[1].size(), 2u);
}

// ------------------------------------------------------------------------------------------
// Loss weights

TEST_F(NetTest, LossLayersWeighOneByDefault) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "loss" type: "TestSumLoss" bottom: "data" top: "l" })");
  EXPECT_EQ(net->layer_by_name("loss")->loss_weight(0), 1.0f);
  EXPECT_EQ(net->layer_by_name("data")->loss_weight(0), 0.0f);
  fill_inputs(*net, 1);
  float loss = 0;
  net->Forward(&loss);
  const std::vector<float> data = values_of(*net->blob_by_name("data"));
  float sum = 0;
  for (float v : data) sum += v;
  EXPECT_NEAR(loss, sum, 1e-5);
  EXPECT_EQ(net->output_loss_weights(), (std::vector<float>{1}));
}

TEST_F(NetTest, TotalLossIsTheWeightedSumOfLossTops) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "two" type: "TestTwoTops" bottom: "data" top: "x1" top: "x2"
            loss_weight: 0.5 loss_weight: 0.25 }
    layer { name: "loss" type: "TestSumLoss" bottom: "data" top: "l" loss_weight: 3 }
    layer { name: "muted" type: "TestSumLoss" bottom: "data" top: "m" loss_weight: 0 })");
  fill_inputs(*net, 2);
  float loss = 0;
  net->Forward(&loss);
  float sum = 0;
  for (float v : values_of(*net->blob_by_name("data"))) sum += v;
  // 0.5 sum(x) + 0.25 sum(2x) + 3 sum(x)
  EXPECT_NEAR(loss, 4.0f * sum, 1e-4);
  EXPECT_EQ(net->output_loss_weights(), (std::vector<float>{3, 0, 0.5, 0.25}));  // l, m, x1, x2
  EXPECT_FALSE(net->layer_need_backward()[layer_index(*net, "muted")])
      << "a loss layer weighted 0 needs no backward";
}

TEST_F(NetTest, ExplicitLossWeightOnNonLossTopContributes) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" loss_weight: 2 })");
  fill_inputs(*net, 4);
  float loss = 0;
  net->Forward(&loss);
  float sum = 0;
  for (float v : values_of(*net->blob_by_name("y"))) sum += v;
  EXPECT_NEAR(loss, 2 * sum, 1e-4);
  EXPECT_TRUE(net->layer_need_backward()[1]);
  net->ClearParamDiffs();
  net->Backward();
  // dL/db = 2 per example, two examples.
  for (float g : diff_of(*net->layer_by_name("a")->blobs()[1])) EXPECT_NEAR(g, 4.0f, 1e-5);
}

TEST_F(NetTest, GradientScalesWithTheLossWeight) {
  const auto param_gradient = [](const std::string& weight) {
    SeedScope seed(11);
    auto net = build_net(std::string(kInput) + R"(
      layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
      layer { name: "loss" type: "TestSumLoss" bottom: "y" top: "l" )" + weight + " }");
    fill_inputs(*net, 6);
    net->ClearParamDiffs();
    net->ForwardBackward();
    return std::vector<float>(net->learnable_params()[0]->cpu_diff(),
                              net->learnable_params()[0]->cpu_diff() + 3);
  };
  const std::vector<float> unit = param_gradient("");
  const std::vector<float> scaled = param_gradient("loss_weight: 2.5");
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(unit[i], 0.0f);
    EXPECT_NEAR(scaled[i], 2.5f * unit[i], 1e-5) << i;
  }
}

TEST_F(NetTest, WeightedTopThatIsAlsoConsumedGetsBothGradients) {
  // y is a loss (weight 2) and also feeds another loss: dL/dy = 2 + 1.
  auto net = build_net(std::string(kInput) + R"(
    force_backward: true
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" loss_weight: 2 }
    layer { name: "loss" type: "TestSumLoss" bottom: "y" top: "l" })");
  fill_inputs(*net, 8);
  float loss = 0;
  net->Forward(&loss);
  float sum = 0;
  for (float v : values_of(*net->blob_by_name("y"))) sum += v;
  EXPECT_NEAR(loss, 3 * sum, 1e-4) << "each loss counted once";
  // The Split's first output carries y's loss weight; the producer's is moved there.
  const Layer& split = *net->layer_by_name("y_a_0_split");
  EXPECT_EQ(split.loss_weight(0), 2.0f);
  EXPECT_EQ(split.loss_weight(1), 0.0f);
  EXPECT_EQ(net->layer_by_name("a")->loss_weight(0), 0.0f);
  EXPECT_EQ(net->output_blob_names(), (Names{"l", "y_a_0_split_0"}));
  EXPECT_EQ(net->output_loss_weights(), (std::vector<float>{1, 2}));
  NetParameter proto;
  net->ToProto(&proto);
  EXPECT_EQ(proto.layer(1).loss_weight(0), 2.0f) << "ToProto gives the net as written";
  EXPECT_EQ(proto.layer(2).bottom(0), "y");
  expect_gradient_matches(*net, net->blob_by_name("data"), "data");
  expect_gradient_matches(*net, net->layer_by_name("a")->blobs()[1].get(), "bias");
}

TEST_F(NetTest, ConsumingAnImplicitLossTopIsAnError) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "loss" type: "TestSumLoss" bottom: "data" top: "l" }
      layer { name: "after" type: "TestIdentity" bottom: "l" top: "l2" })");
  });
  EXPECT_TRUE(contains(message, "'after'")) << message;
  EXPECT_TRUE(contains(message, "'l'")) << message;
  EXPECT_TRUE(contains(message, "loss_weight")) << message;
}

TEST_F(NetTest, LossWeightCountMustMatchTops) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "two" type: "TestTwoTops" bottom: "data" top: "x1" top: "x2" loss_weight: 1 })");
  });
  EXPECT_TRUE(contains(message, "layer 'two' (TestTwoTops)")) << message;
  EXPECT_TRUE(contains(message, "one per top")) << message;
}

// ------------------------------------------------------------------------------------------
// Shared parameters

const char* const kSharedNet = R"(
  layer { name: "d1" type: "Input" top: "x1" input_param { shape { dim: 2 dim: 6 } } }
  layer { name: "d2" type: "Input" top: "x2" input_param { shape { dim: %s } } }
  layer { name: "a" type: "TestAffine" bottom: "x1" top: "y1"
          param { name: "w" } param { name: "b" } }
  layer { name: "b" type: "TestAffine" bottom: "x2" top: "y2"
          param { name: "w" %s } param { name: "b" %s } }
  layer { name: "loss1" type: "TestSumLoss" bottom: "y1" top: "l1" }
  layer { name: "loss2" type: "TestSumLoss" bottom: "y2" top: "l2" loss_weight: 2 }
)";

std::string shared_net(const std::string& x2_dims, const std::string& w_extra = "",
                       const std::string& b_extra = "") {
  std::vector<char> text(4096);
  std::snprintf(text.data(), text.size(), kSharedNet, x2_dims.c_str(), w_extra.c_str(),
                b_extra.c_str());
  return text.data();
}

TEST_F(NetTest, SharedParamsShareDataAndAccumulateGradients) {
  auto net = build_net(shared_net("2 dim: 6"));
  const Layer& a = *net->layer_by_name("a");
  const Layer& b = *net->layer_by_name("b");
  EXPECT_EQ(a.blobs()[0]->cpu_data(), b.blobs()[0]->cpu_data());
  EXPECT_EQ(a.blobs()[1]->cpu_diff(), b.blobs()[1]->cpu_diff());
  ASSERT_EQ(net->learnable_params().size(), 2u) << "each shared parameter counted once";
  EXPECT_EQ(net->learnable_params()[0], a.blobs()[0].get());
  fill_inputs(*net, 9);
  for (Blob* param : net->learnable_params()) expect_gradient_matches(*net, param, "shared param");
  // The bias gradient is 2 examples x (1 + 2) from the two users.
  net->ClearParamDiffs();
  net->ForwardBackward();
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(a.blobs()[1]->cpu_diff()[i], 6.0f, 1e-5);
}

TEST_F(NetTest, SharedParamShapeMismatchIsStrictByDefault) {
  const std::string message = error_of([] { build_net(shared_net("2 dim: 2 dim: 3")); });
  EXPECT_TRUE(contains(message, "layer 'b'")) << message;
  EXPECT_TRUE(contains(message, "shared param 'w'")) << message;
  EXPECT_TRUE(contains(message, "2 3 (6)")) << message;
  EXPECT_TRUE(contains(message, "6 (6)")) << message;
  EXPECT_TRUE(contains(message, "PERMISSIVE")) << message;
}

TEST_F(NetTest, PermissiveSharingNeedsOnlyEqualCounts) {
  auto net = build_net(shared_net("2 dim: 2 dim: 3", "share_mode: PERMISSIVE",
                                  "share_mode: PERMISSIVE"));
  EXPECT_EQ(net->layer_by_name("a")->blobs()[0]->cpu_data(),
            net->layer_by_name("b")->blobs()[0]->cpu_data());
  EXPECT_EQ(net->layer_by_name("b")->blobs()[0]->shape(), (std::vector<int>{2, 3}));
  const std::string message = error_of([] {
    build_net(shared_net("2 dim: 4", "share_mode: PERMISSIVE", "share_mode: PERMISSIVE"));
  });
  EXPECT_TRUE(contains(message, "shared param 'w'")) << message;
}

TEST_F(NetTest, SharerLrMultAppliesWhenOwnerLeavesItUnset) {
  auto net = build_net(shared_net("2 dim: 6", "lr_mult: 0 decay_mult: 0.5"));
  EXPECT_EQ(net->params_lr(), (std::vector<float>{0, 1}));
  EXPECT_EQ(net->params_weight_decay(), (std::vector<float>{0.5, 1}));
}

TEST_F(NetTest, SharedParamsWithConflictingLrMultAreAnError) {
  std::string text = shared_net("2 dim: 6", "lr_mult: 2");
  text.replace(text.find("param { name: \"w\" }"), 19, "param { name: \"w\" lr_mult: 1 }");
  const std::string message = error_of([&] { build_net(text); });
  EXPECT_TRUE(contains(message, "shared param 'w'")) << message;
  EXPECT_TRUE(contains(message, "lr_mult")) << message;
}

// ------------------------------------------------------------------------------------------
// Which layers run backward

TEST_F(NetTest, LrMultZeroFreezesParams) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "frozen" type: "TestAffine" bottom: "data" top: "y"
            param { lr_mult: 0 } param { lr_mult: 0 decay_mult: 0 } }
    layer { name: "half" type: "TestAffine" bottom: "y" top: "z"
            param { lr_mult: 0 } param { lr_mult: 2 decay_mult: 3 } }
    layer { name: "loss" type: "TestSumLoss" bottom: "z" top: "l" })");
  const Layer& frozen = *net->layer_by_name("frozen");
  const Layer& half = *net->layer_by_name("half");
  EXPECT_FALSE(frozen.param_propagate_down(0));
  EXPECT_FALSE(frozen.param_propagate_down(1));
  EXPECT_FALSE(half.param_propagate_down(0));
  EXPECT_TRUE(half.param_propagate_down(1));
  EXPECT_EQ(net->layer_need_backward(), (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(net->bottom_need_backward()[2], (std::vector<bool>{false}));
  EXPECT_EQ(net->params_lr(), (std::vector<float>{0, 0, 0, 2}));
  EXPECT_EQ(net->params_weight_decay(), (std::vector<float>{1, 0, 1, 3}));
  fill_inputs(*net, 12);
  net->ClearParamDiffs();
  net->ForwardBackward();
  EXPECT_EQ(half.blobs()[0]->asum_diff(), 0.0f);
  EXPECT_NEAR(half.blobs()[1]->cpu_diff()[0], 2.0f, 1e-6);
}

TEST_F(NetTest, PropagateDownFalseStopsTheGradient) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "b" type: "TestAffine" bottom: "y" top: "z" propagate_down: false }
    layer { name: "loss" type: "TestSumLoss" bottom: "z" top: "l" })");
  EXPECT_EQ(net->bottom_need_backward()[2], (std::vector<bool>{false}));
  // Nothing reaches a's output any more, so a (and its params) skip backward, as in Caffe.
  EXPECT_EQ(net->layer_need_backward(), (std::vector<bool>{false, false, true, true}));
  fill_inputs(*net, 13);
  net->ClearParamDiffs();
  net->ForwardBackward();
  EXPECT_EQ(net->layer_by_name("a")->blobs()[0]->asum_diff(), 0.0f);
  EXPECT_GT(net->layer_by_name("b")->blobs()[0]->asum_diff(), 0.0f);
}

TEST_F(NetTest, PropagateDownFalseOnOneConsumerKeepsTheOther) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "b" type: "TestAffine" bottom: "y" top: "p" propagate_down: false }
    layer { name: "c" type: "TestAffine" bottom: "y" top: "q" }
    layer { name: "loss_p" type: "TestSumLoss" bottom: "p" top: "lp" }
    layer { name: "loss_q" type: "TestSumLoss" bottom: "q" top: "lq" })");
  EXPECT_TRUE(net->layer_need_backward()[1]);
  fill_inputs(*net, 14);
  // Only the path through c reaches a: dL/db_a = 2 w_c.
  net->ClearParamDiffs();
  net->ForwardBackward();
  const float* wc = net->layer_by_name("c")->blobs()[0]->cpu_data();
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(net->layer_by_name("a")->blobs()[1]->cpu_diff()[i], 2 * wc[i], 1e-5);
  }
}

TEST_F(NetTest, ForceBackwardReachesInputsButNotLabels) {
  const std::string text = std::string(kInput) + R"(
    layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 2 } } }
    layer { name: "loss" type: "TestSumLoss" bottom: "data" bottom: "label" top: "l" })";
  auto plain = build_net(text);
  EXPECT_EQ(plain->bottom_need_backward()[2], (std::vector<bool>{false, false}));
  EXPECT_FALSE(plain->layer_need_backward()[2]);
  auto forced = build_net("force_backward: true " + text);
  EXPECT_EQ(forced->bottom_need_backward()[2], (std::vector<bool>{true, false}));
  EXPECT_TRUE(forced->layer_need_backward()[2]);
  forced->ForwardBackward();
  for (float g : diff_of(*forced->blob_by_name("data"))) EXPECT_EQ(g, 1.0f);
}

TEST_F(NetTest, LayersThatReachNoLossSkipBackward) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
    layer { name: "side" type: "TestAffine" bottom: "y" top: "unused" }
    layer { name: "loss" type: "TestSumLoss" bottom: "y" top: "l" })");
  const int side = layer_index(*net, "side");
  EXPECT_FALSE(net->layer_need_backward()[side]);
  EXPECT_EQ(net->bottom_need_backward()[side], (std::vector<bool>{false}));
  EXPECT_TRUE(net->layer_need_backward()[1]);
  fill_inputs(*net, 15);
  net->ClearParamDiffs();
  net->ForwardBackward();
  EXPECT_EQ(net->layer_by_name("side")->blobs()[0]->asum_diff(), 0.0f);
  expect_gradient_matches(*net, net->layer_by_name("a")->blobs()[0].get(), "a through split");
}

// ------------------------------------------------------------------------------------------
// Legacy net-level inputs

TEST_F(NetTest, LegacyInputShapeBecomesAnInputLayer) {
  auto net = build_net(R"(
    input: "data" input_shape { dim: 4 dim: 3 }
    input: "label" input_shape { dim: 4 }
    layer { name: "loss" type: "TestSumLoss" bottom: "data" bottom: "label" top: "l" })");
  EXPECT_EQ(net->layer_names(), (Names{"input", "loss"}));
  EXPECT_STREQ(net->layers()[0]->type(), "Input");
  EXPECT_EQ(net->input_blob_names(), (Names{"data", "label"}));
  EXPECT_EQ(net->blob_by_name("data")->shape(), (std::vector<int>{4, 3}));
  EXPECT_EQ(net->blob_by_name("label")->shape(), (std::vector<int>{4}));
}

TEST_F(NetTest, LegacyInputDimBecomesAnInputLayer) {
  auto net = build_net(R"(
    input: "data" input_dim: 2 input_dim: 3 input_dim: 4 input_dim: 5
    layer { name: "id" type: "TestIdentity" bottom: "data" top: "out" })");
  EXPECT_EQ(net->input_blob_names(), (Names{"data"}));
  EXPECT_EQ(net->blob_by_name("data")->shape(), (std::vector<int>{2, 3, 4, 5}));
  EXPECT_EQ(net->blob_by_name("out")->shape(), (std::vector<int>{2, 3, 4, 5}));
}

TEST_F(NetTest, LegacyInputWithWrongDimCountIsAnError) {
  const std::string message = error_of([] {
    build_net("input: \"data\" input_dim: 2 input_dim: 3");
  });
  EXPECT_TRUE(contains(message, "input_dim")) << message;
  EXPECT_TRUE(contains(error_of([] { build_net("input: \"data\""); }), "input_shape"));
}

// ------------------------------------------------------------------------------------------
// Construction errors

TEST_F(NetTest, UnknownLayerTypeListsKnownTypes) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(layer { name: "odd" type: "Bogus" bottom: "data" top: "y" })");
  });
  EXPECT_TRUE(contains(message, "layer 'odd'")) << message;
  EXPECT_TRUE(contains(message, "unknown type 'Bogus'")) << message;
  EXPECT_TRUE(contains(message, "Input")) << message;
  EXPECT_TRUE(contains(message, "TestAffine")) << message;
}

TEST_F(NetTest, MissingBottomNamesLayerAndBlob) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "a" type: "TestAffine" bottom: "nowhere" top: "y" })");
  });
  EXPECT_TRUE(contains(message, "layer 'a' (TestAffine)")) << message;
  EXPECT_TRUE(contains(message, "bottom blob 'nowhere'")) << message;
}

TEST_F(NetTest, BottomFromAnExcludedLayerIsMissing) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "t" type: "TestIdentity" bottom: "data" top: "y" include { phase: TEST } }
      layer { name: "a" type: "TestIdentity" bottom: "y" top: "z" })");
  });
  EXPECT_TRUE(contains(message, "bottom blob 'y'")) << message;
  EXPECT_TRUE(contains(message, "TRAIN")) << message;
}

TEST_F(NetTest, DuplicateTopIsAnError) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "a" type: "TestIdentity" bottom: "data" top: "y" }
      layer { name: "b" type: "TestIdentity" bottom: "data" top: "y" })");
  });
  EXPECT_TRUE(contains(message, "layer 'b'")) << message;
  EXPECT_TRUE(contains(message, "top blob 'y'")) << message;
  EXPECT_TRUE(contains(message, "already produced")) << message;
}

TEST_F(NetTest, DuplicateLayerNamesAreAnError) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "a" type: "TestIdentity" bottom: "data" top: "y" }
      layer { name: "a" type: "TestIdentity" bottom: "data" top: "z" })");
  });
  EXPECT_TRUE(contains(message, "two layers are named 'a'")) << message;
}

TEST_F(NetTest, WrongBlobCountNamesTheLayer) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "a" type: "TestAffine" bottom: "data" bottom: "data" top: "y" })");
  });
  EXPECT_TRUE(contains(message, "layer 'a' (TestAffine)")) << message;
  EXPECT_TRUE(contains(message, "exactly 1 bottom")) << message;
}

TEST_F(NetTest, IncompatibleShapesNameLayerTypeAndBottom) {
  // The layer's parameters (given in the prototxt) fit examples of 3 values; "other" has 5.
  const std::string message = error_of([] {
    build_net(R"(
      layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 2 dim: 5 } } }
      layer { name: "b" type: "TestAffine" bottom: "other" top: "z"
              blobs { shape { dim: 3 } data: 1 data: 1 data: 1 }
              blobs { shape { dim: 3 } data: 0 data: 0 data: 0 } })");
  });
  EXPECT_TRUE(contains(message, "layer 'b' (TestAffine)")) << message;
  EXPECT_TRUE(contains(message, "must have 3 values")) << message;
  EXPECT_TRUE(contains(message, "other [2 5 (10)]")) << message;
}

TEST_F(NetTest, ErrorsNameBottomsAsWrittenNotTheirSplitOutputs) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "fine" type: "TestIdentity" bottom: "data" top: "y" }
      layer { name: "b" type: "TestAffine" bottom: "data" top: "z"
              blobs { shape { dim: 2 } data: 1 data: 1 } blobs { shape { dim: 2 } data: 0 data: 0 } })");
  });
  EXPECT_TRUE(contains(message, "bottoms: data [2 3 (6)]")) << message;
}

TEST_F(NetTest, BadLayerBlobsNameTheLayer) {
  const std::string message = error_of([] {
    build_net(std::string(kInput) + R"(
      layer { name: "b" type: "TestAffine" bottom: "data" top: "z" blobs { shape { dim: 3 } } })");
  });
  EXPECT_TRUE(contains(message, "layer 'b' (TestAffine): ")) << message;
  EXPECT_TRUE(contains(message, "0 values")) << message;
}

TEST_F(NetTest, ForwardErrorsNameTheBottoms) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "a" type: "TestAffine" bottom: "data" top: "y" })");
  net->blob_by_name("data")->Reshape({2, 4});
  const std::string message = error_of([&] { net->Forward(); });
  EXPECT_TRUE(contains(message, "layer 'a' (TestAffine)")) << message;
  EXPECT_TRUE(contains(message, "data [2 4 (8)]")) << message;
}

TEST_F(NetTest, MalformedPrototxtNamesFileAndLine) {
  TempDir dir;
  const std::string path = (dir / "broken.prototxt");
  write_text(path, "name: \"broken\"\nlayer {\n  name: \"a\" type: 7x\n}\n");
  const std::string message = error_of([&] { Net net(path, TRAIN); });
  EXPECT_TRUE(contains(message, path + ":3:")) << message;
}

TEST_F(NetTest, LegacyV1NetIsUpgraded) {
  TempDir dir;
  const std::string path = (dir / "v1.prototxt");
  write_text(path,
             "name: \"old\"\ninput: \"x\"\ninput_shape { dim: 2 }\n"
             "layers {\n  name: \"s\" type: SPLIT bottom: \"x\" top: \"a\" top: \"b\"\n}\n");
  Net net(path, TRAIN);
  EXPECT_EQ(net.layer_names(), (Names{"input", "s"}));
  EXPECT_EQ(net.layer_by_name("s")->layer_param().type(), "Split");
  EXPECT_EQ(net.output_blob_names(), (Names{"a", "b"}));
}

TEST_F(NetTest, MissingPrototxtIsAnError) {
  TempDir dir;
  const std::string path = (dir / "absent.prototxt");
  const std::string message = error_of([&] { Net net(path, TEST); });
  EXPECT_TRUE(contains(message, path)) << message;
}

TEST_F(NetTest, OutOfRangeForwardAndLookupsAreErrors) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "loss" type: "TestSumLoss" bottom: "data" top: "l" })");
  EXPECT_THROW(net->ForwardFromTo(0, 2), Error);
  EXPECT_THROW(net->BackwardFromTo(2, 0), Error);
  const std::string message = error_of([&] { net->blob_by_name("nope"); });
  EXPECT_TRUE(contains(message, "'nope'")) << message;
  EXPECT_TRUE(contains(message, "data, l")) << message;
  EXPECT_THROW(net->layer_by_name("nope"), Error);
  EXPECT_TRUE(net->has_blob("l"));
  EXPECT_FALSE(net->has_layer("l"));
}

TEST_F(NetTest, StepContextReachesLayers) {
  auto net = build_net(R"(layer { name: "probe" type: "TestStepProbe" top: "s" })");
  net->set_step(7, 40);
  net->Forward();
  EXPECT_EQ(values_of(*net->blob_by_name("s")), (std::vector<float>{7, 40}));
  net->Forward();
  EXPECT_EQ(values_of(*net->blob_by_name("s")), (std::vector<float>{7, 41}));
  EXPECT_EQ(net->iteration(), 7);
}

// ------------------------------------------------------------------------------------------
// Weights: Save, CopyTrainedLayersFrom, ShareTrainedLayersWith, ToProto

const char* const kWeightedNet = R"(
  name: "weighted"
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
  layer { name: "a" type: "TestAffine" bottom: "data" top: "y" }
  layer { name: "b" type: "TestAffine" bottom: "y" top: "p" }
  layer { name: "c" type: "TestAffine" bottom: "y" top: "q" }
  layer { name: "loss" type: "TestSumLoss" bottom: "p" top: "l" }
)";

std::unique_ptr<Net> weighted_net(uint64_t seed) {
  SeedScope scope(seed);
  return build_net(kWeightedNet);
}

TEST_F(NetTest, SaveAndCopyTrainedLayersRoundTrip) {
  TempDir dir;
  auto source = weighted_net(1);
  auto target = weighted_net(2);
  ASSERT_NE(values_of(*source->learnable_params()[0]), values_of(*target->learnable_params()[0]));
  const std::string path = (dir / "model.caffemodel");
  source->Save(path);
  EXPECT_EQ(dir.entries(), (Names{"model.caffemodel"})) << "no temporary file left behind";
  source->Save(path);  // overwriting is atomic too
  EXPECT_EQ(dir.entries(), (Names{"model.caffemodel"}));
  target->CopyTrainedLayersFrom(path);
  ASSERT_EQ(source->learnable_params().size(), 6u);
  for (size_t i = 0; i < source->learnable_params().size(); ++i) {
    EXPECT_EQ(values_of(*source->learnable_params()[i]), values_of(*target->learnable_params()[i]));
  }
  fill_inputs(*source, 20);
  fill_inputs(*target, 20);
  EXPECT_EQ(total_loss(*source), total_loss(*target));
}

TEST_F(NetTest, ToProtoOmitsAutoSplitsAndKeepsOriginalWiring) {
  auto net = weighted_net(3);
  ASSERT_TRUE(net->has_layer("y_a_0_split"));
  NetParameter proto;
  net->ToProto(&proto);
  EXPECT_EQ(proto.name(), "weighted");
  EXPECT_EQ(layer_types(proto), (Names{"Input", "TestAffine", "TestAffine", "TestAffine", "TestSumLoss"}));
  EXPECT_EQ(proto.layer(2).bottom(0), "y");
  EXPECT_EQ(proto.layer(3).bottom(0), "y");
  EXPECT_EQ(proto.layer(1).blobs_size(), 2);
  EXPECT_EQ(proto.layer(1).blobs(0).diff_size(), 0);
  // The result is itself a valid net with the same weights.
  Net rebuilt(proto);
  EXPECT_EQ(values_of(*rebuilt.layer_by_name("c")->blobs()[0]),
            values_of(*net->layer_by_name("c")->blobs()[0]));
  net->ToProto(&proto, /*write_diff=*/true);
  EXPECT_EQ(proto.layer(1).blobs(0).diff_size(), 3);
}

TEST_F(NetTest, ToProtoKeepsAUserWrittenSplit) {
  auto net = build_net(std::string(kInput) + R"(
    layer { name: "mine" type: "Split" bottom: "data" top: "s1" top: "s2" })");
  NetParameter proto;
  net->ToProto(&proto);
  EXPECT_EQ(layer_types(proto), (Names{"Input", "Split"}));
}

TEST_F(NetTest, CopyTrainedLayersShapeMismatchNamesLayerAndShapes) {
  NetParameter trained;
  weighted_net(4)->ToProto(&trained);
  trained.mutable_layer(2)->mutable_blobs(0)->mutable_shape()->set_dim(0, 4);
  trained.mutable_layer(2)->mutable_blobs(0)->add_data(0.0f);
  auto target = weighted_net(5);
  const std::string message = error_of([&] { target->CopyTrainedLayersFrom(trained); });
  EXPECT_TRUE(contains(message, "layer 'b'")) << message;
  EXPECT_TRUE(contains(message, "4 (4)")) << message;
  EXPECT_TRUE(contains(message, "3 (3)")) << message;
}

TEST_F(NetTest, CopyTrainedLayersChecksBlobCountAndIgnoresUnknownLayers) {
  NetParameter trained;
  weighted_net(6)->ToProto(&trained);
  trained.mutable_layer(1)->set_name("not_in_target");
  auto target = weighted_net(7);
  const std::vector<float> before = values_of(*target->layer_by_name("a")->blobs()[0]);
  target->CopyTrainedLayersFrom(trained);
  EXPECT_EQ(values_of(*target->layer_by_name("a")->blobs()[0]), before);
  trained.mutable_layer(2)->mutable_blobs()->RemoveLast();
  const std::string message = error_of([&] { target->CopyTrainedLayersFrom(trained); });
  EXPECT_TRUE(contains(message, "layer 'b'")) << message;
  EXPECT_TRUE(contains(message, "1 blob")) << message;
}

TEST_F(NetTest, LegacyWeightDimsAreAccepted) {
  NetParameter trained;
  weighted_net(8)->ToProto(&trained);
  BlobProto* weights = trained.mutable_layer(1)->mutable_blobs(0);
  weights->clear_shape();
  weights->set_num(1);
  weights->set_channels(1);
  weights->set_height(1);
  weights->set_width(3);
  auto target = weighted_net(9);
  target->CopyTrainedLayersFrom(trained);
  EXPECT_EQ(target->layer_by_name("a")->blobs()[0]->cpu_data()[2], weights->data(2));
}

TEST_F(NetTest, TruncatedCaffemodelIsAnError) {
  TempDir dir;
  const std::string path = (dir / "model.caffemodel");
  weighted_net(10)->Save(path);
  const std::string bytes = read_file(path);
  write_file_atomically(path, bytes.substr(0, bytes.size() / 2));
  auto target = weighted_net(11);
  const std::string message = error_of([&] { target->CopyTrainedLayersFrom(path); });
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "truncated")) << message;
}

TEST_F(NetTest, MissingOrUntypedV1CaffemodelIsAnError) {
  TempDir dir;
  auto target = weighted_net(12);
  const std::string missing = (dir / "absent.caffemodel");
  EXPECT_TRUE(contains(error_of([&] { target->CopyTrainedLayersFrom(missing); }), missing));
  // A V1 model keeps its layers in field 2 (here one layer named "ip", without a type).
  const std::string v1 = (dir / "v1.caffemodel");
  write_file_atomically(v1, std::string("\x12\x04\x22\x02ip", 6));
  const std::string untyped = error_of([&] { target->CopyTrainedLayersFrom(v1); });
  EXPECT_TRUE(contains(untyped, v1)) << untyped;
  EXPECT_TRUE(contains(untyped, "'ip' has no type")) << untyped;
  EXPECT_TRUE(contains(error_of([&] { target->CopyTrainedLayersFrom((dir / "w.h5")); }), "HDF5"));
}

TEST_F(NetTest, ShareTrainedLayersWithSharesStorage) {
  auto source = weighted_net(13);
  auto target = weighted_net(14);
  target->ShareTrainedLayersWith(*source);
  EXPECT_EQ(target->layer_by_name("b")->blobs()[0]->cpu_data(),
            source->layer_by_name("b")->blobs()[0]->cpu_data());
}

TEST_F(NetTest, SameSeedGivesSameInitialWeights) {
  auto first = weighted_net(15);
  auto second = weighted_net(15);
  for (size_t i = 0; i < first->learnable_params().size(); ++i) {
    EXPECT_EQ(values_of(*first->learnable_params()[i]), values_of(*second->learnable_params()[i]));
  }
  EXPECT_NE(values_of(*first->layer_by_name("b")->blobs()[0]),
            values_of(*first->layer_by_name("c")->blobs()[0]));
}

}  // namespace
}  // namespace caffe
