// Skipping the input columns that an approximate-dropout layer leaves zero (Blob::column_pattern):
// InnerProductApproxDropout (ROW, OUTPUT side, TRAIN) marks its dropped outputs, ReLU / Dropout /
// TanH carry the mark, and the next InnerProduct or InnerProductApproxDropout computes over the
// live input columns only.  Every case runs with skipping on and off: tops, loss and parameter
// gradients must agree (to float rounding: the products have other shapes), and bottom gradients
// may differ only in skipped columns, where the skipping path writes zeros.  To prove that a layer
// really skips, the skipped inputs and weights are poisoned with NaN, which the dense path would
// spread everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "caffe/core/net.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/masked_product.hpp"
#include "layers/approx_dropout/inner_product_approx_dropout_layer.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kPrefilledParamDiff = 0.25f;  // parameter gradients must accumulate onto it

// Turns skipping on or off for a scope.
class SkipScope {
 public:
  explicit SkipScope(bool enabled) : previous_(column_skip_enabled()) {
    set_column_skip_enabled(enabled);
  }
  ~SkipScope() { set_column_skip_enabled(previous_); }
  SkipScope(const SkipScope&) = delete;
  SkipScope& operator=(const SkipScope&) = delete;

 private:
  bool previous_;
};

// The skipping and the dense path run GEMMs of different shapes, so their sums may round
// differently: allow 1e-5 relative (absolute below 1).
bool close(float dense, float skip) {
  return std::isfinite(skip) &&
         std::fabs(dense - skip) <= 1e-5f * std::max({1.0f, std::fabs(dense), std::fabs(skip)});
}

bool live(const ColumnPattern& pattern, int column) {
  return pattern.dense() ||
         test::in_unit_class(column, pattern.width, pattern.period, pattern.offset, pattern.blocks);
}

std::vector<float> values(const float* begin, int count) { return {begin, begin + count}; }

// ------------------------------------------------------------------------------------------
// Single layers: a bottom with a hand-set pattern, dense run vs skipping run with poison.

struct Gradients {
  std::vector<float> y, dx;
  std::vector<std::vector<float>> dparams;
};

// Forward + backward of `layer` on `x` (set up) with output gradient from seed 23 and
// prefilled parameter gradients.
Gradients forward_backward(Layer& layer, test::BlobSet& bottom, test::BlobSet& top, Mode mode) {
  Blob* x = bottom.ptrs[0];
  Blob* y = top.ptrs[0];
  for (const auto& param : layer.blobs()) {
    std::fill(param->mutable_cpu_diff(), param->mutable_cpu_diff() + param->count(),
              kPrefilledParamDiff);
  }
  std::fill(x->mutable_cpu_diff(), x->mutable_cpu_diff() + x->count(), kNaN);  // overwritten
  set_mode(mode);
  layer.Forward(bottom.ptrs, top.ptrs);
  set_mode(Mode::CPU);
  test::fill_gaussian(y->mutable_cpu_diff(), y->count(), 23);
  set_mode(mode);
  layer.Backward(top.ptrs, {true}, bottom.ptrs);
  set_mode(Mode::CPU);
  Gradients result{values(y->cpu_data(), y->count()), values(x->cpu_diff(), x->count()), {}};
  for (const auto& param : layer.blobs()) {
    result.dparams.push_back(values(param->cpu_diff(), param->count()));
  }
  return result;
}

// Runs `layer` (set up on a bottom [batch, K] whose dead columns are zero and whose pattern is
// `pattern`) densely and then skipping, the skipping run with NaN in the dead columns of x and of
// W (stored [M, K], or [K, M] when `transposed`), and compares.  With `expect_skip` false the layer
// must not skip: both runs are the dense one, bit for bit (and nothing is poisoned).
void check_skip_matches_dense(Layer& layer, test::BlobSet& bottom, test::BlobSet& top,
                              const ColumnPattern& pattern, bool transposed, bool expect_skip,
                              Mode mode = Mode::CPU) {
  Blob* x = bottom.ptrs[0];
  Blob& weight = *layer.blobs()[0];
  const int K = x->shape(-1);
  const int batch = x->count() / K;
  const int M = weight.count() / K;
  for (int i = 0; i < x->count(); ++i) {
    if (!live(pattern, i % K)) x->mutable_cpu_data()[i] = 0.0f;
  }
  x->set_column_pattern(pattern);

  Gradients dense;
  {
    SkipScope off(false);
    dense = forward_backward(layer, bottom, top, mode);
  }
  const std::vector<float> saved_weight = values(weight.cpu_data(), weight.count());
  const auto weight_column = [&](int i) { return transposed ? i / M : i % K; };
  if (expect_skip) {
    for (int i = 0; i < x->count(); ++i) {
      if (!live(pattern, i % K)) x->mutable_cpu_data()[i] = kNaN;
    }
    for (int i = 0; i < weight.count(); ++i) {
      if (!live(pattern, weight_column(i))) weight.mutable_cpu_data()[i] = kNaN;
    }
  }
  Gradients skip;
  {
    SkipScope on(true);
    skip = forward_backward(layer, bottom, top, mode);
  }
  std::copy(saved_weight.begin(), saved_weight.end(), weight.mutable_cpu_data());
  for (int i = 0; i < x->count(); ++i) {
    if (!live(pattern, i % K)) x->mutable_cpu_data()[i] = 0.0f;
  }

  if (!expect_skip) {
    EXPECT_EQ(dense.y, skip.y) << "top";
    EXPECT_EQ(dense.dx, skip.dx) << "bottom diff";
    EXPECT_EQ(dense.dparams, skip.dparams) << "parameter diffs";
    return;
  }
  for (size_t i = 0; i < dense.y.size(); ++i) {
    EXPECT_PRED2(close, dense.y[i], skip.y[i]) << "top " << i;
  }
  for (int i = 0; i < batch * K; ++i) {
    if (live(pattern, i % K)) {
      EXPECT_PRED2(close, dense.dx[i], skip.dx[i]) << "bottom diff " << i;
    } else {
      EXPECT_EQ(skip.dx[i], 0.0f) << "bottom diff " << i << " in a skipped column";
    }
  }
  for (int i = 0; i < weight.count(); ++i) {
    if (live(pattern, weight_column(i))) {
      EXPECT_PRED2(close, dense.dparams[0][i], skip.dparams[0][i]) << "weight diff " << i;
    } else {
      EXPECT_EQ(skip.dparams[0][i], kPrefilledParamDiff) << "weight diff " << i << " touched";
      EXPECT_EQ(dense.dparams[0][i], kPrefilledParamDiff) << "dense weight diff " << i;
    }
  }
  for (size_t j = 1; j < dense.dparams.size(); ++j) {
    for (size_t i = 0; i < dense.dparams[j].size(); ++i) {
      EXPECT_PRED2(close, dense.dparams[j][i], skip.dparams[j][i]) << "param " << j << " diff " << i;
    }
  }
}

std::string ip_text(int num_output, const std::string& extra = "") {
  return "name: 'ip' type: 'InnerProduct' inner_product_param { num_output: " +
         std::to_string(num_output) +
         " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 } " +
         extra + " }";
}

void check_inner_product(const ColumnPattern& pattern, bool transposed, bool expect_skip,
                         Mode mode = Mode::CPU, std::vector<int> bottom_shape = {5, 37},
                         const std::string& extra = "") {
  SCOPED_TRACE("InnerProduct transpose=" + std::to_string(transposed) + " pattern (" +
               std::to_string(pattern.period) + ", " + std::to_string(pattern.offset) +
               ", width " + std::to_string(pattern.width) + ")");
  auto layer = test::make_layer(ip_text(10, extra + (transposed ? " transpose: true" : "")));
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add(bottom_shape), 11);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  check_skip_matches_dense(*layer, bottom, top, pattern, transposed, expect_skip, mode);
}

TEST(ColumnPatternSkipTest, InnerProductSkipsDeadColumns) {
  for (const bool transposed : {false, true}) {
    for (const ColumnPattern& pattern :
         {ColumnPattern{2, 0, 37}, ColumnPattern{2, 1, 37}, ColumnPattern{3, 2, 37},
          ColumnPattern{7, 3, 37}, ColumnPattern{37, 36, 37}, ColumnPattern{2, 1, 37, true},
          ColumnPattern{3, 0, 37, true}, ColumnPattern{7, 4, 37, true},
          ColumnPattern{37, 36, 37, true}}) {
      check_inner_product(pattern, transposed, /*expect_skip=*/true);
    }
  }
}

TEST(ColumnPatternSkipTest, InnerProductWithAxisSkipsOverTheFoldedRows) {
  // Bottom [2, 3, 37], axis 2: six rows of 37 inputs.
  check_inner_product({3, 1, 37}, false, true, Mode::CPU, {2, 3, 37}, "axis: 2");
  check_inner_product({3, 1, 37}, false, true, Mode::CPU, {2, 3, 37}, "axis: -1 bias_term: false");
}

TEST(ColumnPatternSkipTest, InnerProductIgnoresPatternsOfOtherWidthsAndDensePatterns) {
  // The pattern describes rows of 36 or 74 units, the layer reads rows of 37: no skip.
  check_inner_product({2, 1, 36}, false, false);
  check_inner_product({2, 1, 74}, true, false);
  check_inner_product({1, 0, 37}, false, false);
  // Axis 1 folds [5, 2, 37] into rows of 74: a width-37 pattern does not apply.
  check_inner_product({2, 0, 37}, false, false, Mode::CPU, {5, 2, 37});
}

TEST(ColumnPatternSkipTest, SkippingCanBeTurnedOff) {
  // With skipping off, a layer ignores the pattern: poisoned dead columns reach the top.
  SkipScope off(false);
  auto layer = test::make_layer(ip_text(4));
  test::BlobSet bottom, top;
  Blob* x = bottom.add({2, 6});
  test::fill_gaussian(x, 3);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  x->mutable_cpu_data()[1] = kNaN;
  x->set_column_pattern({2, 0, 6});
  layer->Forward(bottom.ptrs, top.ptrs);
  EXPECT_TRUE(std::isnan(top.ptrs[0]->cpu_data()[0]));
  set_column_skip_enabled(true);
  layer->Forward(bottom.ptrs, top.ptrs);
  EXPECT_TRUE(std::isfinite(top.ptrs[0]->cpu_data()[0]));
}

// ----- InnerProductApproxDropout as the consumer -----

std::string approx_text(const std::string& name, int num_output, const std::string& dropout,
                        const std::string& extra_ip = "") {
  return "name: '" + name + "' type: 'InnerProductApproxDropout' inner_product_param { num_output: " +
         std::to_string(num_output) +
         " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 } " +
         extra_ip + " } approx_dropout_param { " + dropout + " }";
}

void check_approx(const std::string& dropout, DropPattern own, const ColumnPattern& input,
                  bool expect_skip, Mode mode = Mode::CPU, Phase phase = TRAIN, int batch = 40) {
  SCOPED_TRACE("InnerProductApproxDropout {" + dropout + "} own (" + std::to_string(own.period) +
               ", " + std::to_string(own.offset) + ") input (" + std::to_string(input.period) +
               ", " + std::to_string(input.offset) + ")" + (phase == TEST ? " TEST" : ""));
  auto layer = test::make_layer(approx_text("ad", 23, dropout), phase);
  if (phase == TRAIN) {
    dynamic_cast<InnerProductApproxDropoutLayer&>(*layer).set_fixed_pattern(own.period, own.offset);
  }
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({batch, 37}), 13);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  check_skip_matches_dense(*layer, bottom, top, input, false, expect_skip, mode);
}

void check_approx_modes(Mode mode) {
  // ROW OUTPUT: rows every dp2-th, columns every dp1-th.  Below 32 rows per batch the kept rows
  // alone are used (in place), unless dp2 = 1.
  for (const DropPattern own : {DropPattern{1, 0}, DropPattern{2, 1}, DropPattern{7, 3}}) {
    for (const ColumnPattern& input : {ColumnPattern{2, 0, 37}, ColumnPattern{3, 2, 37}}) {
      check_approx("pattern: ROW", own, input, true, mode);
      check_approx("pattern: ROW", own, input, own.period == 1, mode, TRAIN, 31);
    }
  }
  // ROW INPUT: the columns both patterns keep (k ≡ 1 mod 2 and k ≡ 2 mod 3: every 6th from 5),
  // none (k ≡ 0 mod 2 and k ≡ 1 mod 4: y is the bias alone), or one pattern inside the other.
  check_approx("pattern: ROW drop_side: INPUT", {3, 2}, {2, 1, 37}, true, mode);
  check_approx("pattern: ROW drop_side: INPUT", {4, 1}, {2, 0, 37}, true, mode);
  check_approx("pattern: ROW drop_side: INPUT", {4, 2}, {2, 0, 37}, true, mode);
  check_approx("pattern: ROW drop_side: INPUT", {2, 0}, {6, 4, 37}, true, mode);
  check_approx("pattern: ROW drop_side: INPUT", {7, 5}, {37, 12, 37}, true, mode);
  check_approx("pattern: ROW drop_side: INPUT", {1, 0}, {3, 0, 37}, true, mode);
  // row_layout: BLOCKS.  ROW OUTPUT: a run of rows, the live columns (a run: also below 32 rows
  // per batch, where using it in place costs nothing).
  const std::string blocks = "pattern: ROW row_layout: BLOCKS";
  for (const DropPattern own : {DropPattern{1, 0}, DropPattern{2, 1}, DropPattern{7, 3}}) {
    check_approx(blocks, own, {3, 1, 37, true}, true, mode);
    check_approx(blocks, own, {3, 1, 37, true}, true, mode, TRAIN, 31);
    check_approx(blocks, own, {2, 0, 37}, true, mode);
  }
  // ROW INPUT: a run and residues (the residues within the run), two runs that overlap (k in
  // [24, 37) and [18, 37)), two that do not ([0, 18) and [18, 37): y is the bias alone).
  const std::string input_blocks = "pattern: ROW drop_side: INPUT row_layout: BLOCKS";
  check_approx(input_blocks, {3, 2}, {2, 1, 37}, true, mode);
  check_approx("pattern: ROW drop_side: INPUT", {3, 2}, {3, 1, 37, true}, true, mode);
  check_approx(input_blocks, {3, 2}, {2, 1, 37, true}, true, mode);
  check_approx(input_blocks, {2, 0}, {2, 1, 37, true}, true, mode);
  // TILE: its own pattern keeps blocks of columns that the input pattern would split, so only
  // dp = 1 (nothing dropped) skips.
  check_approx("pattern: TILE tile_size: 4", {3, 1}, {2, 1, 37}, false, mode);
  check_approx("pattern: TILE tile_size: 4", {1, 0}, {2, 1, 37}, true, mode);
  // TEST: a plain InnerProduct, which skips.
  check_approx("pattern: ROW", {1, 0}, {3, 1, 37}, true, mode, TEST);
  check_approx("pattern: TILE", {1, 0}, {3, 1, 37}, true, mode, TEST);
}

TEST(ColumnPatternSkipTest, ApproxLayerCombinesItsPatternWithTheInputPattern) {
  check_approx_modes(Mode::CPU);
}

// ----- pattern propagation -----

ColumnPattern pattern_after(const std::string& prototxt, const ColumnPattern& input, bool in_place,
                            Phase phase = TRAIN) {
  auto layer = test::make_layer(prototxt, phase);
  test::BlobSet bottom, top;
  Blob* x = bottom.add({4, 12});
  test::fill_gaussian(x, 5);
  BlobVec tops = in_place ? bottom.ptrs : BlobVec{top.add({})};
  layer->SetUp(bottom.ptrs, tops);
  x->set_column_pattern(input);
  layer->Forward(bottom.ptrs, tops);
  return tops[0]->column_pattern();
}

bool same_pattern(const ColumnPattern& a, const ColumnPattern& b) {
  return a.period == b.period && a.offset == b.offset && a.width == b.width && a.blocks == b.blocks;
}

TEST(ColumnPatternSkipTest, ZeroPreservingLayersCarryThePattern) {
  const ColumnPattern input{3, 1, 12};
  const std::vector<std::string> carriers = {
      "name: 'relu' type: 'ReLU'",
      "name: 'leaky' type: 'ReLU' relu_param { negative_slope: 0.1 }",
      "name: 'drop' type: 'Dropout' dropout_param { dropout_ratio: 0.3 }",
      "name: 'tanh' type: 'TanH'",
  };
  for (const std::string& text : carriers) {
    for (const bool in_place : {false, true}) {
      for (const Phase phase : {TRAIN, TEST}) {
        SCOPED_TRACE(text + (in_place ? " in place" : "") + (phase == TEST ? " TEST" : ""));
        EXPECT_TRUE(same_pattern(pattern_after(text, input, in_place, phase), input));
      }
    }
  }
}

TEST(ColumnPatternSkipTest, OtherLayersClearThePattern) {
  const ColumnPattern input{3, 1, 12};
  const std::vector<std::pair<std::string, bool>> clearers = {
      {"name: 'sigmoid' type: 'Sigmoid'", false},  // sigmoid(0) = 1/2
      {"name: 'sigmoid' type: 'Sigmoid'", true},
      {"name: 'softmax' type: 'Softmax'", false},
      {"name: 'flatten' type: 'Flatten'", false},
      {"name: 'ip' type: 'InnerProduct' inner_product_param { num_output: 12 }", false},
  };
  for (const auto& [text, in_place] : clearers) {
    SCOPED_TRACE(text + (in_place ? " in place" : ""));
    EXPECT_TRUE(pattern_after(text, input, in_place).dense());
  }
}

ColumnPattern approx_top_pattern(const std::string& dropout, DropPattern own, Phase phase = TRAIN) {
  auto layer = test::make_layer(approx_text("ad", 12, dropout), phase);
  if (phase == TRAIN) {
    dynamic_cast<InnerProductApproxDropoutLayer&>(*layer).set_fixed_pattern(own.period, own.offset);
  }
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({4, 9}), 5);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  layer->Forward(bottom.ptrs, top.ptrs);
  return top.ptrs[0]->column_pattern();
}

TEST(ColumnPatternSkipTest, ApproxLayerMarksDroppedOutputs) {
  EXPECT_TRUE(same_pattern(approx_top_pattern("pattern: ROW", {3, 2}), {3, 2, 12}));
  EXPECT_TRUE(same_pattern(approx_top_pattern("pattern: ROW", {12, 5}), {12, 5, 12}));
  EXPECT_TRUE(approx_top_pattern("pattern: ROW", {1, 0}).dense());
  EXPECT_TRUE(approx_top_pattern("pattern: ROW drop_side: INPUT", {3, 2}).dense());
  EXPECT_TRUE(approx_top_pattern("pattern: TILE tile_size: 4", {3, 2}).dense());
  EXPECT_TRUE(approx_top_pattern("pattern: ROW schedule_file: '/nonexistent'", {}, TEST).dense());
}

// ------------------------------------------------------------------------------------------
// Whole nets: the same training step with skipping on and off.

// Writes a schedule with one (period, offset) per iteration; returns its path.
std::string write_schedule(const std::string& name, ApproxDropoutParameter::Pattern pattern,
                           const std::vector<DropPattern>& entries) {
  DropoutSchedule schedule;
  schedule.set_pattern(pattern);
  schedule.set_target_ratio(0.5f);
  for (const DropPattern& entry : entries) {
    schedule.add_period(entry.period);
    schedule.add_offset(entry.offset);
  }
  const std::string path = test::temp_file_path("column_skip_" + name);
  write_proto_to_binary_file(schedule, path);
  return path;
}

// Schedules for up to four approximate-dropout layers; removed with the object.
struct Schedules {
  std::vector<std::string> paths;
  Schedules() {
    using P = DropPattern;
    // Periods 2, 3, 7 and 1 (nothing dropped) in different combinations per iteration.
    paths.push_back(write_schedule("s1", ApproxDropoutParameter::ROW,
                                   {P{2, 1}, P{3, 2}, P{7, 3}, P{1, 0}, P{2, 0}, P{3, 0}}));
    paths.push_back(write_schedule("s2", ApproxDropoutParameter::ROW,
                                   {P{3, 0}, P{2, 1}, P{1, 0}, P{7, 6}, P{3, 1}, P{2, 0}}));
    paths.push_back(write_schedule("s3", ApproxDropoutParameter::ROW,
                                   {P{7, 2}, P{1, 0}, P{2, 0}, P{3, 1}, P{4, 3}, P{2, 1}}));
    paths.push_back(write_schedule("tile", ApproxDropoutParameter::TILE,
                                   {P{3, 1}, P{1, 0}, P{2, 0}, P{5, 4}, P{1, 0}, P{7, 2}}));
  }
  ~Schedules() {
    for (const std::string& path : paths) std::remove(path.c_str());
  }
  static constexpr int kIterations = 6;
};

const char* kInputs = R"(
  layer { name: 'data' type: 'Input' top: 'data' top: 'label'
          input_param { shape { dim: 32 dim: 20 } shape { dim: 32 } } })";

std::string fc(const std::string& type, const std::string& name, const std::string& bottom,
               const std::string& top, int num_output, const std::string& more = "") {
  return "layer { name: '" + name + "' type: '" + type + "' bottom: '" + bottom + "' top: '" + top +
         "' inner_product_param { num_output: " + std::to_string(num_output) +
         " weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } " +
         more + " } }";
}

std::string approx(const std::string& name, const std::string& bottom, const std::string& top,
                   int num_output, const std::string& schedule,
                   const std::string& dropout = "pattern: ROW") {
  std::string text = fc("InnerProductApproxDropout", name, bottom, top, num_output);
  text.pop_back();  // reopen the layer
  return text + " approx_dropout_param { " + dropout + " schedule_file: '" + schedule + "' } }";
}

std::string neuron(const std::string& type, const std::string& name, const std::string& bottom,
                   const std::string& top, const std::string& more = "") {
  return "layer { name: '" + name + "' type: '" + type + "' bottom: '" + bottom + "' top: '" + top +
         "' " + more + " }";
}

std::string loss(const std::string& bottom) {
  return "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: '" + bottom +
         "' bottom: 'label' top: 'loss' }";
}

std::unique_ptr<Net> build_net(const std::string& layers, Phase phase = TRAIN) {
  NetParameter param;
  read_proto_from_text("name: 'skipnet' force_backward: true " + std::string(kInputs) + layers,
                       "<column skip net>", &param);
  param.mutable_state()->set_phase(phase);
  return std::make_unique<Net>(param);
}

// Everything a training step produces.
struct Step {
  float loss = 0;
  std::map<std::string, std::vector<float>> data, diff;
  std::map<std::string, ColumnPattern> patterns;
  std::vector<std::vector<float>> param_diffs;
};

Step train_step(Net& net, int iteration, bool skip, Mode mode = Mode::CPU) {
  SkipScope scope(skip);
  Blob* data = net.blob_by_name("data");
  Blob* label = net.blob_by_name("label");
  test::fill_gaussian(data, 100 + iteration);
  for (int i = 0; i < label->count(); ++i) {
    label->mutable_cpu_data()[i] = static_cast<float>((7 * i + iteration) % 10);
  }
  net.ClearParamDiffs();
  net.set_step(iteration, iteration);  // the same Dropout masks in both runs
  Step step;
  set_mode(mode);
  net.Forward(&step.loss);
  net.Backward();
  set_mode(Mode::CPU);
  for (size_t b = 0; b < net.blobs().size(); ++b) {
    const Blob& blob = *net.blobs()[b];
    const std::string& name = net.blob_names()[b];
    step.data[name] = values(blob.cpu_data(), blob.count());
    step.diff[name] = values(blob.cpu_diff(), blob.count());
    step.patterns[name] = blob.column_pattern();
  }
  for (Blob* param : net.learnable_params()) {
    step.param_diffs.push_back(values(param->cpu_diff(), param->count()));
  }
  return step;
}

// Expects the skipping step to reproduce the dense one: the same loss, blob values and parameter
// gradients; blob gradients too, except in the columns a blob's pattern marks dead, where the
// skipping step may hold zeros instead.  Returns how many gradients differ that way.
int expect_same_step(const Step& dense, const Step& skip) {
  EXPECT_PRED2(close, dense.loss, skip.loss) << "loss";
  int zeroed = 0;
  for (const auto& [name, dense_data] : dense.data) {
    SCOPED_TRACE("blob '" + name + "'");
    const std::vector<float>& skip_data = skip.data.at(name);
    const std::vector<float>& dense_diff = dense.diff.at(name);
    const std::vector<float>& skip_diff = skip.diff.at(name);
    const ColumnPattern& pattern = skip.patterns.at(name);
    EXPECT_TRUE(same_pattern(pattern, dense.patterns.at(name)));
    for (size_t i = 0; i < dense_data.size(); ++i) {
      EXPECT_PRED2(close, dense_data[i], skip_data[i]) << "data " << i;
      const bool dead = !pattern.dense() && !live(pattern, static_cast<int>(i) % pattern.width);
      if (dead && skip_diff[i] == 0.0f && dense_diff[i] != 0.0f) {
        EXPECT_EQ(dense_data[i], 0.0f) << "diff " << i << " zeroed where the data is not zero";
        ++zeroed;
      } else {
        EXPECT_PRED2(close, dense_diff[i], skip_diff[i]) << "diff " << i;
      }
    }
  }
  for (size_t p = 0; p < dense.param_diffs.size(); ++p) {
    for (size_t i = 0; i < dense.param_diffs[p].size(); ++i) {
      EXPECT_PRED2(close, dense.param_diffs[p][i], skip.param_diffs[p][i])
          << "param " << p << " diff " << i;
    }
  }
  return zeroed;
}

// The fully connected layers expected to skip, with the blob they read.
struct Consumer {
  std::string layer;
  std::string bottom;
  bool transposed = false;
};

// Poisons the dead input columns of each consumer's weights with NaN and repeats the skipping
// step: a layer that skips never reads them, so nothing changes, bit for bit.
void expect_consumers_skip(Net& net, int iteration, const Step& skip,
                           const std::vector<Consumer>& consumers, Mode mode) {
  std::vector<std::pair<Blob*, std::vector<float>>> saved;
  bool poisoned = false;
  for (const Consumer& consumer : consumers) {
    const ColumnPattern& pattern = skip.patterns.at(consumer.bottom);
    if (pattern.dense()) continue;
    Blob& weight = *net.layer_by_name(consumer.layer)->blobs()[0];
    saved.emplace_back(&weight, values(weight.cpu_data(), weight.count()));
    const int K = pattern.width;
    const int M = weight.count() / K;
    for (int i = 0; i < weight.count(); ++i) {
      const int column = consumer.transposed ? i / M : i % K;
      if (!live(pattern, column)) weight.mutable_cpu_data()[i] = kNaN;
    }
    poisoned = true;
  }
  if (!poisoned) return;
  const Step poisoned_step = train_step(net, iteration, true, mode);
  for (auto& [blob, original] : saved) {
    std::copy(original.begin(), original.end(), blob->mutable_cpu_data());
  }
  EXPECT_EQ(poisoned_step.loss, skip.loss) << "a consumer read its dead weight columns";
  EXPECT_EQ(poisoned_step.data, skip.data);
  EXPECT_EQ(poisoned_step.diff, skip.diff);
  EXPECT_EQ(poisoned_step.param_diffs, skip.param_diffs);
}

// Runs the schedules' iterations on `net` with skipping off and on (in `mode`) and compares.
// Returns the number of gradients the skipping zeroed (see expect_same_step).
int check_net(Net& net, const std::vector<Consumer>& consumers, Mode mode = Mode::CPU) {
  int zeroed = 0;
  for (int iteration = 0; iteration < Schedules::kIterations; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    const Step dense = train_step(net, iteration, false, mode);
    const Step skip = train_step(net, iteration, true, mode);
    zeroed += expect_same_step(dense, skip);
    expect_consumers_skip(net, iteration, skip, consumers, mode);
  }
  return zeroed;
}

TEST(ColumnPatternSkipTest, ApproxReluIpReluApproxIpNetMatchesDense) {
  // 20 -> approx ROW (37) -> ReLU in place -> IP (45) -> ReLU -> approx ROW (29) -> IP (10).
  Schedules schedules;
  auto net = build_net(approx("ad1", "data", "a1", 37, schedules.paths[0]) +
                       neuron("ReLU", "relu1", "a1", "a1") + fc("InnerProduct", "ip2", "a1", "h2", 45) +
                       neuron("ReLU", "relu2", "h2", "r2") +
                       approx("ad3", "r2", "a3", 29, schedules.paths[1]) +
                       fc("InnerProduct", "ip4", "a3", "out", 10) + loss("out"));
  const int zeroed = check_net(*net, {{"ip2", "a1"}, {"ip4", "a3"}});
  // ip4 reads a3 directly: its bottom gradient in dropped columns is where the paths differ.
  EXPECT_GT(zeroed, 0);
  // The patterns seen in the last iteration (schedule entry 5).
  EXPECT_TRUE(same_pattern(net->blob_by_name("a1")->column_pattern(), {3, 0, 37}));
  EXPECT_TRUE(net->blob_by_name("h2")->column_pattern().dense());
  EXPECT_TRUE(net->blob_by_name("r2")->column_pattern().dense());
  EXPECT_TRUE(same_pattern(net->blob_by_name("a3")->column_pattern(), {2, 0, 29}));
}

TEST(ColumnPatternSkipTest, ChainedApproxLayersCombineTheirPatterns) {
  // approx ROW -> TanH -> approx ROW (rows every dp2-th, columns every dp1-th) -> Dropout in
  // place -> approx ROW INPUT (common columns) -> ReLU -> IP.
  Schedules schedules;
  auto net = build_net(approx("ad1", "data", "a1", 37, schedules.paths[0]) +
                       neuron("TanH", "tanh1", "a1", "t1") +
                       approx("ad2", "t1", "a2", 45, schedules.paths[1]) +
                       neuron("Dropout", "drop2", "a2", "a2") +
                       approx("ad3", "a2", "a3", 29, schedules.paths[2],
                              "pattern: ROW drop_side: INPUT") +
                       neuron("ReLU", "relu3", "a3", "a3") + fc("InnerProduct", "ip4", "a3", "out", 10) +
                       loss("out"));
  const int zeroed = check_net(*net, {{"ad2", "t1"}, {"ad3", "a2"}});
  EXPECT_GT(zeroed, 0);  // TanH passes the gradient at 0: t1's and a1's dead columns differ
}

TEST(ColumnPatternSkipTest, BlockRowsNetMatchesDense) {
  // approx ROW BLOCKS -> ReLU -> approx ROW BLOCKS (a run of rows, a run of columns) -> ReLU ->
  // IP; the ColumnPatterns name the runs.
  Schedules schedules;
  const std::string blocks = "pattern: ROW row_layout: BLOCKS";
  auto net = build_net(approx("ad1", "data", "a1", 37, schedules.paths[0], blocks) +
                       neuron("ReLU", "relu1", "a1", "a1") +
                       approx("ad2", "a1", "a2", 45, schedules.paths[1], blocks) +
                       neuron("ReLU", "relu2", "a2", "r2") +
                       fc("InnerProduct", "ip3", "r2", "out", 10) + loss("out"));
  const int zeroed = check_net(*net, {{"ad2", "a1"}, {"ip3", "r2"}});
  EXPECT_GT(zeroed, 0);
  // The patterns of the last iteration (schedule entries 5): (3, 0) and (2, 0) as runs.
  EXPECT_TRUE(same_pattern(net->blob_by_name("a1")->column_pattern(), {3, 0, 37, true}));
  EXPECT_TRUE(same_pattern(net->blob_by_name("r2")->column_pattern(), {2, 0, 45, true}));
  const float* a1 = net->blob_by_name("a1")->cpu_data();
  for (int row = 0; row < 32; ++row) {
    for (int column = 12; column < 37; ++column) {  // block 0 of 3 over 37 units: [0, 12)
      EXPECT_EQ(a1[row * 37 + column], 0.0f) << "row " << row << " column " << column;
    }
  }
}

TEST(ColumnPatternSkipTest, TransposedLeakyAndTileConsumersMatchDense) {
  // approx ROW -> leaky ReLU -> IP transpose -> ReLU -> approx ROW -> TanH in place -> approx
  // TILE (skips only when its own period is 1) -> IP.
  Schedules schedules;
  auto net = build_net(
      approx("ad1", "data", "a1", 37, schedules.paths[0]) +
      neuron("ReLU", "leaky1", "a1", "r1", "relu_param { negative_slope: 0.1 }") +
      fc("InnerProduct", "ip2", "r1", "h2", 45, "transpose: true") + neuron("ReLU", "relu2", "h2", "h2") +
      approx("ad3", "h2", "a3", 29, schedules.paths[1]) + neuron("TanH", "tanh3", "a3", "a3") +
      approx("ad4", "a3", "a4", 23, schedules.paths[3], "pattern: TILE tile_size: 4") +
      fc("InnerProduct", "ip5", "a4", "out", 10) + loss("out"));
  const int zeroed = check_net(*net, {{"ip2", "r1", /*transposed=*/true}});
  EXPECT_GT(zeroed, 0);
}

TEST(ColumnPatternSkipTest, SigmoidSoftmaxAndWidthMismatchStopSkipping) {
  Schedules schedules;
  // Sigmoid and Softmax make the dropped units non-zero: the IPs after them compute densely, so
  // skipping on and off agree bit for bit.
  for (const std::string& type : {std::string("Sigmoid"), std::string("Softmax")}) {
    SCOPED_TRACE(type);
    auto net = build_net(approx("ad1", "data", "a1", 37, schedules.paths[0]) +
                         neuron(type, "f1", "a1", "s1") + fc("InnerProduct", "ip2", "s1", "out", 10) +
                         loss("out"));
    for (int iteration = 0; iteration < Schedules::kIterations; ++iteration) {
      const Step dense = train_step(*net, iteration, false);
      const Step skip = train_step(*net, iteration, true);
      EXPECT_TRUE(skip.patterns.at("s1").dense());
      EXPECT_EQ(dense.loss, skip.loss);
      EXPECT_EQ(dense.data, skip.data);
      EXPECT_EQ(dense.diff, skip.diff);
      EXPECT_EQ(dense.param_diffs, skip.param_diffs);
    }
  }
  // Rows of 37 units (approx with axis 2 on [6, 2, 10]) read by an IP over rows of 74: no skip.
  NetParameter param;
  read_proto_from_text(
      "name: 'mismatch' force_backward: true "
      "layer { name: 'data' type: 'Input' top: 'data' top: 'label' "
      "        input_param { shape { dim: 6 dim: 2 dim: 10 } shape { dim: 6 } } } " +
          approx("ad1", "data", "a1", 37, schedules.paths[0]) + neuron("ReLU", "relu1", "a1", "a1") +
          fc("InnerProduct", "ip2", "a1", "out", 10) + loss("out"),
      "<mismatch net>", &param);
  for (LayerParameter& layer : *param.mutable_layer()) {
    if (layer.name() == "ad1") layer.mutable_inner_product_param()->set_axis(2);
  }
  param.mutable_state()->set_phase(TRAIN);
  Net net(param);
  int patterned_steps = 0;
  for (int iteration = 0; iteration < Schedules::kIterations; ++iteration) {
    const Step dense = train_step(net, iteration, false);
    const Step skip = train_step(net, iteration, true);
    const ColumnPattern& pattern = skip.patterns.at("a1");
    EXPECT_TRUE(pattern.dense() || pattern.width == 37);
    patterned_steps += !pattern.dense();
    EXPECT_EQ(dense.loss, skip.loss);
    EXPECT_EQ(dense.diff, skip.diff);
    EXPECT_EQ(dense.param_diffs, skip.param_diffs);
  }
  EXPECT_GT(patterned_steps, 0);
}

TEST(ColumnPatternSkipTest, TestPhaseNetIsDense) {
  Schedules schedules;
  auto net = build_net(approx("ad1", "data", "a1", 37, schedules.paths[0]) +
                           neuron("ReLU", "relu1", "a1", "a1") +
                           fc("InnerProduct", "ip2", "a1", "out", 10) + loss("out"),
                       TEST);
  const Step dense = train_step(*net, 0, false);
  const Step skip = train_step(*net, 0, true);
  for (const auto& [name, pattern] : skip.patterns) {
    EXPECT_TRUE(pattern.dense()) << name;
  }
  EXPECT_EQ(dense.data, skip.data);
}

// ----- GPU -----

TEST(ColumnPatternSkipTest, GpuLayersSkipDeadColumns) {
  SKIP_IF_NO_GPU();
  for (const bool transposed : {false, true}) {
    check_inner_product({3, 2, 37}, transposed, true, Mode::GPU);
    check_inner_product({2, 1, 36}, transposed, false, Mode::GPU);
  }
  check_approx_modes(Mode::GPU);
}

TEST(ColumnPatternSkipTest, GpuNetMatchesDenseAndCpu) {
  SKIP_IF_NO_GPU();
  Schedules schedules;
  const std::string layers = approx("ad1", "data", "a1", 37, schedules.paths[0]) +
                             neuron("TanH", "tanh1", "a1", "t1") +
                             approx("ad2", "t1", "a2", 45, schedules.paths[1]) +
                             neuron("ReLU", "relu2", "a2", "a2") +
                             fc("InnerProduct", "ip3", "a2", "out", 10, "transpose: true") + loss("out");
  auto net = build_net(layers);
  EXPECT_GT(check_net(*net, {{"ad2", "t1"}, {"ip3", "a2", true}}, Mode::GPU), 0);
  for (int iteration = 0; iteration < Schedules::kIterations; ++iteration) {
    const Step cpu = train_step(*net, iteration, true, Mode::CPU);
    const Step gpu = train_step(*net, iteration, true, Mode::GPU);
    EXPECT_NEAR(cpu.loss, gpu.loss, 1e-4f);
    for (size_t p = 0; p < cpu.param_diffs.size(); ++p) {
      for (size_t i = 0; i < cpu.param_diffs[p].size(); ++i) {
        EXPECT_NEAR(cpu.param_diffs[p][i], gpu.param_diffs[p][i], 1e-4f) << p << " " << i;
      }
    }
  }
}

}  // namespace
}  // namespace caffe

namespace caffe {
namespace {

TEST(ColumnPatternSkipTest, ForwardFromALaterLayerForgetsPatternsOfBlobsWrittenOutside) {
  // A user may overwrite a blob (pycaffe) and run forward from a later layer: the zero-column
  // structure its producer recorded no longer holds, so the consumer must not skip.
  Schedules schedules;
  auto net = build_net(approx("ad1", "data", "a1", 37, schedules.paths[0]) +
                       fc("InnerProduct", "ip2", "a1", "out", 10) + loss("out"));
  net->set_step(0, 0);
  net->Forward();
  Blob* a1 = net->blob_by_name("a1");
  ASSERT_FALSE(a1->column_pattern().dense());
  test::fill_gaussian(a1, 5);  // every column non-zero now
  const auto& names = net->layer_names();
  const int ip2 = static_cast<int>(std::find(names.begin(), names.end(), "ip2") - names.begin());
  const Blob& out = *net->blob_by_name("out");
  net->ForwardFromTo(ip2, ip2);
  const std::vector<float> after_write = values(out.cpu_data(), out.count());
  {
    SkipScope dense(false);
    net->ForwardFromTo(ip2, ip2);
  }
  EXPECT_EQ(after_write, values(out.cpu_data(), out.count()));
}

}  // namespace
}  // namespace caffe
