// LSTMApproxDropout against a plain LSTM given the masked problem explicitly: ROW feeds it
// s · mask ⊙ x, TILE gives it W_xc replaced by s · (W_xc ⊙ Mask), s = 1/(1 − p) (scale: GLOBAL)
// or dp (PERIOD), tiles in either order, ROW's units as residues or contiguous blocks and its
// offset fixed or rotating per token (row r of x keeps class (b + r) mod dp).  Everything the
// pattern drops is poisoned with NaN in the layer under test, so any read of a dropped input or
// weight shows up. Plus gradient checks, TEST = LSTM, schedule loading and its errors, and GPU =
// CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "caffe/util/io.hpp"
#include "caffe/util/math_functions.hpp"
#include "layers/approx_dropout/lstm_approx_dropout_layer.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kPrefilledParamDiff = 0.25f;  // parameter gradients must accumulate onto it

enum class Kind { Row, Tile };

struct Dims {
  int T, N, D, H;
  int tile = 4;
  // The layer's settings besides the geometry (dropout_ratio 0.5).
  ApproxDropoutParameter::Scale scale = ApproxDropoutParameter::GLOBAL;
  TileOrder order = TileOrder::Staggered;
  bool rotate = false;  // ROW: rotate_offset
  bool blocks = false;  // ROW: row_layout BLOCKS
  int gates() const { return 4 * H; }
  int tiles() const { return (gates() + tile - 1) / tile * ((D + tile - 1) / tile); }
};
// D = 10 is divisible by neither 3 nor 7 nor the tile size; W_xc [20, 10] has 5 x 3 tiles.
const Dims kDims{4, 3, 10, 5};

std::string kind_name(Kind kind) { return kind == Kind::Row ? "ROW" : "TILE"; }

std::string settings_name(Kind kind, const Dims& d) {
  std::string name = kind_name(kind);
  name += d.scale == ApproxDropoutParameter::GLOBAL ? " GLOBAL" : " PERIOD";
  if (kind == Kind::Tile) name += d.order == TileOrder::Staggered ? " STAGGERED" : " ROW_MAJOR";
  if (d.rotate) name += " rotate_offset";
  if (d.blocks) name += " BLOCKS";
  return name;
}

ApproxDropoutParameter::TileOrder proto_order(TileOrder order) {
  return order == TileOrder::Staggered ? ApproxDropoutParameter::STAGGERED
                                       : ApproxDropoutParameter::ROW_MAJOR;
}

// What the kept inputs (ROW) or weights (TILE) are multiplied by, from the definition.
float kept_factor(const Dims& d, DropPattern p) {
  return d.scale == ApproxDropoutParameter::PERIOD ? static_cast<float>(p.period) : 2.0f;
}

std::string recurrent_text(const Dims& d, bool expose) {
  return "recurrent_param { num_output: " + std::to_string(d.H) +
         " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 }"
         " expose_hidden: " +
         (expose ? "true" : "false") + " } ";
}

// The layer under test; `dropout` replaces the default approx_dropout_param body.
std::string approx_text(Kind kind, const Dims& d, bool expose, const std::string& schedule = "",
                        const std::string& dropout = "") {
  std::string body = dropout;
  if (body.empty()) {
    body =
        kind == Kind::Row ? "pattern: ROW " : "pattern: TILE tile_size: " + std::to_string(d.tile);
    if (kind == Kind::Tile) {
      body += " tile_order: " + ApproxDropoutParameter::TileOrder_Name(proto_order(d.order));
    }
    body += " dropout_ratio: 0.5 scale: " + ApproxDropoutParameter::Scale_Name(d.scale);
    if (d.rotate) body += " rotate_offset: true";
    if (d.blocks) body += " row_layout: BLOCKS";
    if (!schedule.empty()) body += " schedule_file: '" + schedule + "'";
  }
  return "name: 'lstmad' type: 'LSTMApproxDropout' " + recurrent_text(d, expose) +
         "approx_dropout_param { " + body + " }";
}

std::string lstm_text(const Dims& d, bool expose) {
  return "name: 'lstm' type: 'LSTM' " + recurrent_text(d, expose);
}

LSTMApproxDropoutLayer& as_approx(Layer& layer) {
  return dynamic_cast<LSTMApproxDropoutLayer&>(layer);
}

// Whether W_xc entry (j, k) takes part (for some token), and whether unit k of token (row) r of x
// does.
bool in_class(int k, const Dims& d, DropPattern p, int c) {
  return test::in_unit_class(k, d.D, p.period, c, d.blocks);
}
bool weight_kept(Kind kind, const Dims& d, DropPattern p, int j, int k) {
  if (kind == Kind::Row) return d.rotate || in_class(k, d, p, p.offset);
  const int tile_cols = (d.D + d.tile - 1) / d.tile;
  const int row_step = d.order == TileOrder::RowMajor ? tile_cols : 1;
  return (j / d.tile * row_step + k / d.tile) % p.period == p.offset;
}
bool input_kept(Kind kind, const Dims& d, DropPattern p, int r, int k) {
  return kind == Kind::Tile || in_class(k, d, p, (p.offset + (d.rotate ? r : 0)) % p.period);
}

std::vector<std::vector<int>> bottom_shapes(const Dims& d, bool expose) {
  // x as T x N x 2 x D/2: D is the product of the axes after the first two.
  std::vector<std::vector<int>> shapes{{d.T, d.N, 2, d.D / 2}, {d.T, d.N}};
  if (expose) {
    shapes.push_back({1, d.N, d.H});
    shapes.push_back({1, d.N, d.H});
  }
  return shapes;
}

// cont = 0 starts a sequence: stream 0 at t = 0, and streams 0 and 2 again at t = 2.
float reset_mid_sequence(int t, int n) { return (t == 0 && n == 0) || (t == 2 && n != 1) ? 0 : 1; }
// Also every stream at t = 0, so that a forward pass does not depend on the carried state.
float restart_every_stream(int t, int n) { return t == 0 ? 0.0f : reset_mid_sequence(t, n); }

void fill_inputs(const Dims& d, BlobVec& bottom, float (*cont)(int, int) = reset_mid_sequence) {
  test::fill_gaussian(bottom[0], 5);
  float* cont_data = bottom[1]->mutable_cpu_data();
  for (int t = 0; t < d.T; ++t) {
    for (int n = 0; n < d.N; ++n) cont_data[t * d.N + n] = cont(t, n);
  }
  for (size_t b = 2; b < bottom.size(); ++b) test::fill_gaussian(bottom[b], 7 + b, 0.0f, 0.7f);
}

// A layer with its bottoms and tops.
struct LayerRun {
  Dims d;
  bool expose;
  std::unique_ptr<Layer> layer;
  test::BlobSet bottom, top;

  LayerRun(const std::string& text, const Dims& dims, bool expose_hidden, Phase phase = TRAIN)
      : d(dims), expose(expose_hidden), layer(test::make_layer(text, phase)) {
    for (const auto& shape : bottom_shapes(d, expose)) bottom.add(shape);
    for (int t = 0; t < (expose ? 3 : 1); ++t) top.add({});
  }
  void setup() { layer->SetUp(bottom.ptrs, top.ptrs); }
  void forward() { layer->Forward(bottom.ptrs, top.ptrs); }
  std::vector<bool> propagate_down() const {
    return expose ? std::vector<bool>{true, false, true, true} : std::vector<bool>{true, false};
  }
  void backward() { layer->Backward(top.ptrs, propagate_down(), bottom.ptrs); }
  Blob& param(int j) { return *layer->blobs()[j]; }
};

void copy_data(const Blob& from, Blob& to) {
  std::copy(from.cpu_data(), from.cpu_data() + from.count(), to.mutable_cpu_data());
}

// The plain LSTM given the masked problem of `approx` (set up, not yet run) for `pattern`:
// the same bottoms with x → s · mask ⊙ x (ROW), the same weights with W_xc → s · (W_xc ⊙ Mask)
// (TILE).
std::unique_ptr<LayerRun> masked_reference(LayerRun& approx, Kind kind, DropPattern pattern) {
  const Dims& d = approx.d;
  auto ref = std::make_unique<LayerRun>(lstm_text(d, approx.expose), d, approx.expose);
  for (size_t b = 0; b < approx.bottom.ptrs.size(); ++b) {
    copy_data(*approx.bottom.ptrs[b], *ref->bottom.ptrs[b]);
  }
  ref->setup();
  for (size_t j = 0; j < approx.layer->blobs().size(); ++j) {
    copy_data(approx.param(j), ref->param(j));
  }
  const float s = kept_factor(d, pattern);
  if (kind == Kind::Row) {
    float* x = ref->bottom.ptrs[0]->mutable_cpu_data();
    for (int i = 0; i < ref->bottom.ptrs[0]->count(); ++i) {
      x[i] *= input_kept(kind, d, pattern, i / d.D, i % d.D) ? s : 0.0f;
    }
  } else {
    float* w = ref->param(0).mutable_cpu_data();
    for (int j = 0; j < d.gates(); ++j) {
      for (int k = 0; k < d.D; ++k) {
        w[j * d.D + k] *= weight_kept(kind, d, pattern, j, k) ? s : 0.0f;
      }
    }
  }
  for (int j = 0; j < static_cast<int>(ref->layer->blobs().size()); ++j) {
    cpu_set(ref->param(j).count(), 0.0f, ref->param(j).mutable_cpu_diff());
  }
  return ref;
}

void expect_close(double expected, float actual, const std::string& what) {
  ASSERT_TRUE(std::isfinite(actual)) << what << " is " << actual << ", expected " << expected;
  EXPECT_NEAR(expected, actual, 2e-5 * std::max(1.0, std::fabs(expected))) << what;
}

// Runs the layer for a fixed `pattern` in `mode` (the reference on the CPU) through two forward
// calls (the second continues from the carried state, or from the exposed h_0, c_0) and one
// backward, and compares every output and gradient with the masked reference.
void check_against_reference(Kind kind, DropPattern pattern, bool expose, Mode mode,
                             const Dims& d = kDims) {
  SCOPED_TRACE(settings_name(kind, d) + " dp=" + std::to_string(pattern.period) +
               " b=" + std::to_string(pattern.offset) + (expose ? " expose_hidden" : ""));
  LayerRun approx(approx_text(kind, d, expose), d, expose);
  as_approx(*approx.layer).set_fixed_pattern(pattern.period, pattern.offset);
  fill_inputs(d, approx.bottom.ptrs);
  approx.setup();
  ASSERT_EQ(approx.layer->blobs().size(), 3u);
  auto ref = masked_reference(approx, kind, pattern);

  // Poison what the pattern drops; parameter gradients must accumulate, x's is overwritten.
  Blob& x = *approx.bottom.ptrs[0];
  for (int i = 0; i < x.count(); ++i) {
    if (!input_kept(kind, d, pattern, i / d.D, i % d.D)) x.mutable_cpu_data()[i] = kNaN;
  }
  float* w = approx.param(0).mutable_cpu_data();
  for (int j = 0; j < d.gates(); ++j) {
    for (int k = 0; k < d.D; ++k) {
      if (!weight_kept(kind, d, pattern, j, k)) w[j * d.D + k] = kNaN;
    }
  }
  for (int j = 0; j < 3; ++j) {
    cpu_set(approx.param(j).count(), kPrefilledParamDiff, approx.param(j).mutable_cpu_diff());
  }
  cpu_set(x.count(), kNaN, x.mutable_cpu_diff());

  set_mode(mode);
  approx.forward();
  approx.forward();
  set_mode(Mode::CPU);
  ref->forward();
  ref->forward();
  for (size_t t = 0; t < approx.top.ptrs.size(); ++t) {
    Blob& top = *approx.top.ptrs[t];
    ASSERT_EQ(top.shape(), ref->top.ptrs[t]->shape());
    for (int i = 0; i < top.count(); ++i) {
      expect_close(ref->top.ptrs[t]->cpu_data()[i], top.cpu_data()[i],
                   "top " + std::to_string(t) + " element " + std::to_string(i));
    }
    test::fill_gaussian(top.mutable_cpu_diff(), top.count(), 23 + t);
    std::copy(top.cpu_diff(), top.cpu_diff() + top.count(), ref->top.ptrs[t]->mutable_cpu_diff());
  }
  set_mode(mode);
  approx.backward();
  set_mode(Mode::CPU);
  ref->backward();

  // dL/dx = s · mask ⊙ (dL/dx') for ROW; TILE leaves x alone.
  const float s = kept_factor(d, pattern);
  const float* ref_dx = ref->bottom.ptrs[0]->cpu_diff();
  for (int i = 0; i < x.count(); ++i) {
    const std::string what = "x diff " + std::to_string(i);
    if (!input_kept(kind, d, pattern, i / d.D, i % d.D)) {
      EXPECT_EQ(x.cpu_diff()[i], 0.0f) << what << " of a dropped input";
    } else {
      expect_close((kind == Kind::Row ? s : 1.0f) * ref_dx[i], x.cpu_diff()[i], what);
    }
  }
  // dL/dW_xc = s · Mask ⊙ (dL/dW') for TILE, Mask ⊙ (dL/dW') for ROW (whose dropped columns see
  // zero input); dropped weights are not touched.
  const float* ref_dw = ref->param(0).cpu_diff();
  for (int j = 0; j < d.gates(); ++j) {
    for (int k = 0; k < d.D; ++k) {
      const float actual = approx.param(0).cpu_diff()[j * d.D + k];
      const std::string what = "W_xc diff (" + std::to_string(j) + ", " + std::to_string(k) + ")";
      if (weight_kept(kind, d, pattern, j, k)) {
        expect_close(kPrefilledParamDiff + (kind == Kind::Tile ? s : 1.0f) * ref_dw[j * d.D + k],
                     actual, what);
      } else {
        EXPECT_EQ(actual, kPrefilledParamDiff) << what << " of a dropped weight was touched";
      }
    }
  }
  for (int j : {1, 2}) {  // b_c and W_hc: the LSTM's own
    for (int i = 0; i < approx.param(j).count(); ++i) {
      expect_close(kPrefilledParamDiff + ref->param(j).cpu_diff()[i], approx.param(j).cpu_diff()[i],
                   (j == 1 ? "b_c diff " : "W_hc diff ") + std::to_string(i));
    }
  }
  for (size_t b = 2; b < approx.bottom.ptrs.size(); ++b) {  // h_0, c_0
    for (int i = 0; i < approx.bottom.ptrs[b]->count(); ++i) {
      expect_close(ref->bottom.ptrs[b]->cpu_diff()[i], approx.bottom.ptrs[b]->cpu_diff()[i],
                   (b == 2 ? "h_0 diff " : "c_0 diff ") + std::to_string(i));
    }
  }
}

// Every pattern of periods 1, 2, 3 and 7, under both scalings and (TILE) both tile orders, (ROW)
// in both layouts, with and without rotate_offset.
void check_all_patterns(Kind kind, Mode mode) {
  for (const auto scale : {ApproxDropoutParameter::GLOBAL, ApproxDropoutParameter::PERIOD}) {
    for (int variant = 0; variant < (kind == Kind::Row ? 4 : 2); ++variant) {
      Dims d = kDims;
      d.scale = scale;
      if (kind == Kind::Tile) d.order = variant == 0 ? TileOrder::Staggered : TileOrder::RowMajor;
      d.rotate = kind == Kind::Row && variant % 2 == 1;
      d.blocks = kind == Kind::Row && variant >= 2;
      for (bool expose : {false, true}) {
        for (int period : {1, 2, 3, 7}) {
          for (int offset = 0; offset < period; ++offset) {
            check_against_reference(kind, {period, offset}, expose, mode, d);
          }
        }
      }
    }
  }
}

TEST(LSTMApproxDropoutTest, RowMatchesLstmOnMaskedInput) {
  check_all_patterns(Kind::Row, Mode::CPU);
}

TEST(LSTMApproxDropoutTest, TileMatchesLstmWithMaskedWeights) {
  check_all_patterns(Kind::Tile, Mode::CPU);
}

TEST(LSTMApproxDropoutTest, WidestPatternsKeepOneInputOrTile) {
  check_against_reference(Kind::Row, {10, 9}, false, Mode::CPU);
  Dims rotating = kDims;
  rotating.rotate = true;  // 12 tokens over 10 offsets: offsets 0 and 1 get two tokens each
  check_against_reference(Kind::Row, {10, 9}, false, Mode::CPU, rotating);
  rotating.blocks = true;
  check_against_reference(Kind::Row, {10, 9}, false, Mode::CPU, rotating);
  check_against_reference(Kind::Tile, {15, 14}, true, Mode::CPU);
  // Tiles of 8: W_xc [20, 10] has 3 x 2 tiles, edge tiles cut short in both directions.
  check_against_reference(Kind::Tile, {5, 3}, false, Mode::CPU, Dims{4, 3, 10, 5, 8});
}

TEST(LSTMApproxDropoutTest, SetUpShapesAndParams) {
  LayerRun run(approx_text(Kind::Row, kDims, false), kDims, false);
  as_approx(*run.layer).set_fixed_pattern(3, 1);
  run.setup();
  EXPECT_EQ(run.top.ptrs[0]->shape(), (std::vector<int>{kDims.T, kDims.N, kDims.H}));
  EXPECT_EQ(run.param(0).shape(), (std::vector<int>{kDims.gates(), kDims.D}));
  EXPECT_EQ(run.param(1).shape(), (std::vector<int>{kDims.gates()}));
  EXPECT_EQ(run.param(2).shape(), (std::vector<int>{kDims.gates(), kDims.H}));
  EXPECT_GT(run.param(0).sumsq_data(), 0.0f);  // the gaussian filler ran
  EXPECT_EQ(as_approx(*run.layer).current_pattern(), (DropPattern{3, 1}));
  EXPECT_FALSE(run.layer->AllowForceBackward(1));  // cont, as for LSTM
}

// ----- gradients -----

struct GradientCase {
  Kind kind;
  DropPattern pattern;
  bool expose;
};

void check_layer_gradients(const GradientCase& c) {
  SCOPED_TRACE(kind_name(c.kind) + " dp=" + std::to_string(c.pattern.period) +
               (c.expose ? " expose_hidden" : ""));
  const Dims small{3, 2, 6, 3, 2};  // W_xc [12, 6]: 6 x 3 tiles of 2 x 2
  LayerRun run(approx_text(c.kind, small, c.expose), small, c.expose);
  as_approx(*run.layer).set_fixed_pattern(c.pattern.period, c.pattern.offset);
  // Without exposed state every stream restarts at t = 0, so each forward is a pure function.
  fill_inputs(small, run.bottom.ptrs, c.expose ? reset_mid_sequence : restart_every_stream);
  run.setup();
  test::GradientCheckOptions options;
  options.bottoms_to_check = c.expose ? std::vector<int>{0, 2, 3} : std::vector<int>{0};
  test::check_gradients(*run.layer, run.bottom.ptrs, run.top.ptrs, options);
}

const GradientCase kGradientCases[] = {
    {Kind::Row, {2, 1}, false},
    {Kind::Row, {3, 0}, true},
    {Kind::Tile, {3, 1}, false},
    {Kind::Tile, {4, 2}, true},
};

TEST(LSTMApproxDropoutTest, GradientCheck) {
  for (const GradientCase& c : kGradientCases) check_layer_gradients(c);
}

// ----- TEST phase -----

TEST(LSTMApproxDropoutTest, TestPhaseIsPlainLstm) {
  // TEST needs no schedule (the file does not exist) and drops nothing.
  for (Kind kind : {Kind::Row, Kind::Tile}) {
    SCOPED_TRACE(kind_name(kind));
    LayerRun approx(approx_text(kind, kDims, true, "/nonexistent/lstm.schedule"), kDims, true,
                    TEST);
    fill_inputs(kDims, approx.bottom.ptrs);
    approx.setup();
    approx.layer->set_step(3, 3);
    EXPECT_EQ(as_approx(*approx.layer).current_pattern(), (DropPattern{1, 0}));
    LayerRun lstm(lstm_text(kDims, true), kDims, true, TEST);
    for (size_t b = 0; b < approx.bottom.ptrs.size(); ++b) {
      copy_data(*approx.bottom.ptrs[b], *lstm.bottom.ptrs[b]);
    }
    lstm.setup();
    for (int j = 0; j < 3; ++j) {
      copy_data(approx.param(j), lstm.param(j));
      cpu_set(approx.param(j).count(), 0.0f, approx.param(j).mutable_cpu_diff());
      cpu_set(lstm.param(j).count(), 0.0f, lstm.param(j).mutable_cpu_diff());
    }
    approx.forward();
    lstm.forward();
    for (size_t t = 0; t < 3; ++t) {
      Blob& top = *approx.top.ptrs[t];
      test::fill_gaussian(top.mutable_cpu_diff(), top.count(), 31 + t);
      std::copy(top.cpu_diff(), top.cpu_diff() + top.count(), lstm.top.ptrs[t]->mutable_cpu_diff());
      for (int i = 0; i < top.count(); ++i) {
        EXPECT_EQ(top.cpu_data()[i], lstm.top.ptrs[t]->cpu_data()[i]) << "top " << t << " " << i;
      }
    }
    approx.backward();
    lstm.backward();
    for (int b : {0, 2, 3}) {
      for (int i = 0; i < approx.bottom.ptrs[b]->count(); ++i) {
        EXPECT_EQ(approx.bottom.ptrs[b]->cpu_diff()[i], lstm.bottom.ptrs[b]->cpu_diff()[i])
            << "bottom " << b << " diff " << i;
      }
    }
    for (int j = 0; j < 3; ++j) {
      for (int i = 0; i < approx.param(j).count(); ++i) {
        EXPECT_EQ(approx.param(j).cpu_diff()[i], lstm.param(j).cpu_diff()[i])
            << "param " << j << " diff " << i;
      }
    }
  }
}

// ----- schedules -----

// A TILE schedule records the tile order of kDims (the layer's).
std::string write_schedule(const std::string& name, Kind kind, const std::vector<uint32_t>& periods,
                           const std::vector<uint32_t>& offsets) {
  DropoutSchedule schedule;
  schedule.set_pattern(kind == Kind::Row ? ApproxDropoutParameter::ROW
                                         : ApproxDropoutParameter::TILE);
  if (kind == Kind::Tile) schedule.set_tile_order(proto_order(kDims.order));
  schedule.set_target_ratio(0.5f);
  for (uint32_t period : periods) schedule.add_period(period);
  for (uint32_t offset : offsets) schedule.add_offset(offset);
  const std::string path = test::temp_file_path("approx_lstm_" + name);
  write_proto_to_binary_file(schedule, path);
  return path;
}

// The error SetUp raises ("" if none).
std::string setup_error(const std::string& text, Phase phase = TRAIN) {
  LayerRun run(text, kDims, false, phase);
  try {
    run.setup();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(LSTMApproxDropoutTest, FollowsTheScheduleByIteration) {
  const std::vector<uint32_t> periods = {2, 3, 1, 7};
  const std::vector<uint32_t> offsets = {1, 2, 0, 3};
  for (Kind kind : {Kind::Row, Kind::Tile}) {
    SCOPED_TRACE(kind_name(kind));
    const std::string path = write_schedule("follow", kind, periods, offsets);
    LayerRun approx(approx_text(kind, kDims, false, path), kDims, false);
    // Every stream restarts at t = 0: each forward stands alone.
    fill_inputs(kDims, approx.bottom.ptrs, restart_every_stream);
    approx.setup();
    for (int iteration : {0, 1, 2, 3, 6, 9}) {  // 6 and 9 wrap around
      SCOPED_TRACE("iteration " + std::to_string(iteration));
      approx.layer->set_step(iteration, iteration);
      const DropPattern expected{static_cast<int>(periods[iteration % 4]),
                                 static_cast<int>(offsets[iteration % 4])};
      EXPECT_EQ(as_approx(*approx.layer).current_pattern(), expected);
      approx.forward();
      auto ref = masked_reference(approx, kind, expected);
      ref->forward();
      for (int i = 0; i < ref->top.ptrs[0]->count(); ++i) {
        expect_close(ref->top.ptrs[0]->cpu_data()[i], approx.top.ptrs[0]->cpu_data()[i],
                     "h " + std::to_string(i));
      }
    }
    std::remove(path.c_str());
  }
}

TEST(LSTMApproxDropoutTest, MissingScheduleFilePrintsTheGeneratorCommand) {
  const std::string missing = test::temp_file_path("approx_lstm_missing");
  std::string error = setup_error(approx_text(Kind::Row, kDims, false, missing));
  EXPECT_NE(error.find("layer 'lstmad' (LSTMApproxDropout)"), std::string::npos) << error;
  EXPECT_NE(error.find("python -m caffe.approx_dropout"), std::string::npos) << error;
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  // ROW ranges over the D inputs, TILE over the tiles of W_xc [4H, D] (5 x 3 here).
  EXPECT_NE(error.find("--pattern row --max-period 10"), std::string::npos) << error;
  error = setup_error(approx_text(Kind::Tile, kDims, false, missing));
  EXPECT_NE(error.find("--pattern tile --max-period 15"), std::string::npos) << error;
  error = setup_error(approx_text(Kind::Row, kDims, false));
  EXPECT_NE(error.find("schedule_file is not set"), std::string::npos) << error;
  EXPECT_NE(error.find("python -m caffe.approx_dropout"), std::string::npos) << error;
}

TEST(LSTMApproxDropoutTest, SchedulePeriodsAreBoundedByTheWidth) {
  struct Case {
    Kind kind;
    std::vector<uint32_t> periods, offsets;
    const char* message;  // "" : accepted
  };
  const std::vector<Case> cases = {
      {Kind::Row, {10, 2}, {9, 0}, ""},
      {Kind::Row, {2, 11}, {0, 0}, "entry 1: dropout period 11 exceeds the 10"},
      {Kind::Tile, {15}, {14}, ""},
      {Kind::Tile, {16}, {0}, "entry 0: dropout period 16 exceeds the 15"},
  };
  for (const Case& c : cases) {
    const std::string path = write_schedule("bounds", c.kind, c.periods, c.offsets);
    const std::string error = setup_error(approx_text(c.kind, kDims, false, path));
    if (*c.message == '\0') {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_NE(error.find(c.message), std::string::npos) << error;
      EXPECT_NE(error.find(path), std::string::npos) << error;
    }
    std::remove(path.c_str());
  }
  // A schedule of the other pattern kind.
  const std::string path = write_schedule("kind", Kind::Tile, {2}, {0});
  const std::string error = setup_error(approx_text(Kind::Row, kDims, false, path));
  EXPECT_NE(error.find("holds TILE patterns but the layer uses ROW"), std::string::npos) << error;
  std::remove(path.c_str());
}

TEST(LSTMApproxDropoutTest, OnlyTheInputSideCanBeDropped) {
  for (Phase phase : {TRAIN, TEST}) {
    const std::string error = setup_error(
        approx_text(Kind::Row, kDims, false, "", "drop_side: OUTPUT schedule_file: 'x'"), phase);
    EXPECT_NE(error.find("drop_side: OUTPUT is not supported"), std::string::npos) << error;
    EXPECT_NE(error.find("drop_side: INPUT"), std::string::npos) << error;
  }
  // An explicit INPUT is the default; TILE ranges over W_xc whatever the side (as the generator
  // reads it).
  for (const char* dropout : {"drop_side: INPUT", "pattern: TILE tile_size: 4 drop_side: OUTPUT"}) {
    SCOPED_TRACE(dropout);
    LayerRun run(approx_text(Kind::Row, kDims, false, "", dropout), kDims, false);
    as_approx(*run.layer).set_fixed_pattern(2, 1);
    EXPECT_NO_THROW(run.setup());
  }
}

TEST(LSTMApproxDropoutTest, InvalidSettingsAreErrors) {
  std::string error =
      setup_error(approx_text(Kind::Tile, kDims, false, "", "pattern: TILE tile_size: 0"), TEST);
  EXPECT_NE(error.find("tile_size must be positive"), std::string::npos) << error;

  LayerRun run(approx_text(Kind::Row, kDims, false), kDims, false);
  auto& approx = as_approx(*run.layer);
  EXPECT_THROW(approx.set_fixed_pattern(0, 0), Error);
  EXPECT_THROW(approx.set_fixed_pattern(3, 3), Error);
  EXPECT_THROW(approx.set_fixed_pattern(3, -1), Error);
  error = setup_error(
      approx_text(Kind::Tile, kDims, false, "", "pattern: TILE tile_size: 4 row_layout: BLOCKS"));
  EXPECT_NE(error.find("row_layout: BLOCKS applies to pattern ROW only"), std::string::npos)
      << error;
  error = setup_error(
      approx_text(Kind::Tile, kDims, false, "", "pattern: TILE tile_size: 4 rotate_offset: true"));
  EXPECT_NE(error.find("rotate_offset applies to pattern ROW with drop_side INPUT only; this "
                       "layer drops tiles of W"),
            std::string::npos)
      << error;

  // A fixed period wider than D fails when used.
  approx.set_fixed_pattern(11, 0);
  run.setup();
  const std::string wide_period = test::error_of([&] { run.forward(); });
  EXPECT_NE(wide_period.find("period 11 exceeds the 10"), std::string::npos) << wide_period;
}

// ----- GPU -----

TEST(LSTMApproxDropoutTest, GpuMatchesMaskedReference) {
  SKIP_IF_NO_GPU();
  check_all_patterns(Kind::Row, Mode::GPU);
  check_all_patterns(Kind::Tile, Mode::GPU);
}

TEST(LSTMApproxDropoutTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  for (Kind kind : {Kind::Row, Kind::Tile}) {
    for (bool expose : {false, true}) {
      for (const DropPattern p : {DropPattern{1, 0}, DropPattern{3, 2}, DropPattern{7, 4}}) {
        SCOPED_TRACE(kind_name(kind) + " dp=" + std::to_string(p.period) +
                     (expose ? " expose_hidden" : ""));
        const std::string path = write_schedule("gpu", kind, {static_cast<uint32_t>(p.period)},
                                                {static_cast<uint32_t>(p.offset)});
        test::check_gpu_matches_cpu(approx_text(kind, kDims, expose, path),
                                    bottom_shapes(kDims, expose),
                                    [](BlobVec& bottom) { fill_inputs(kDims, bottom); });
        std::remove(path.c_str());
      }
    }
  }
}

TEST(LSTMApproxDropoutTest, GpuGradientCheck) {
  SKIP_IF_NO_GPU();
  test::GpuModeScope gpu;
  for (const GradientCase& c : kGradientCases) check_layer_gradients(c);
}

}  // namespace
}  // namespace caffe
