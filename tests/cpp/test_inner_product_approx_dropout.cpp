// InnerProductApproxDropout against a naive masked reference (explicit mask × s, double loops,
// s = 1/(1 − p) for scale GLOBAL or dp for PERIOD, tiles in either order),
// with everything the pattern drops poisoned with NaN so that any read of dropped weights,
// inputs or output gradients shows up; plus schedule loading and its errors, and GPU = CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "caffe/util/io.hpp"
#include "caffe/util/masked_product.hpp"
#include "layers/approx_dropout/inner_product_approx_dropout_layer.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kPrefilledParamDiff = 0.25f;  // parameter gradients must accumulate onto it

struct Geometry {
  MaskKind kind;
  int outputs;  // M
  int inputs;   // K
  int tile = 8;
  // The layer's settings besides the geometry.
  TileOrder order = TileOrder::Staggered;
  ApproxDropoutParameter::Scale scale = ApproxDropoutParameter::GLOBAL;
  float ratio = 0.5f;  // dropout_ratio
  bool rotate = false;  // ROW/INPUT: rotate_offset
  bool blocks = false;  // ROW: row_layout BLOCKS
};

std::string kind_name(MaskKind kind) {
  switch (kind) {
    case MaskKind::OutputRows:
      return "ROW/OUTPUT";
    case MaskKind::InputColumns:
      return "ROW/INPUT";
    case MaskKind::Tiles:
      return "TILE";
  }
  return "?";
}

std::string settings_name(const Geometry& g) {
  std::string name = kind_name(g.kind);
  name += g.scale == ApproxDropoutParameter::GLOBAL ? " GLOBAL" : " PERIOD";
  if (g.kind == MaskKind::Tiles) {
    name += g.order == TileOrder::Staggered ? " STAGGERED" : " ROW_MAJOR";
  }
  if (g.rotate) name += " rotate_offset";
  if (g.blocks) name += " BLOCKS";
  return name;
}

ApproxDropoutParameter::TileOrder proto_order(TileOrder order) {
  return order == TileOrder::Staggered ? ApproxDropoutParameter::STAGGERED
                                       : ApproxDropoutParameter::ROW_MAJOR;
}

// What the kept outputs are multiplied by, from the definition.
double kept_factor(const Geometry& g, DropPattern p) {
  return g.scale == ApproxDropoutParameter::PERIOD ? p.period : 1.0 / (1.0 - g.ratio);
}

// Prototxt of the layer under test; the tile order is written unless `with_order` is false.
std::string layer_text(const Geometry& g, const std::string& schedule_file = "",
                       const std::string& extra_ip = "", bool with_order = true) {
  std::string text =
      "name: 'ipad' type: 'InnerProductApproxDropout' "
      "inner_product_param { num_output: " +
      std::to_string(g.outputs) +
      " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' std: 0.5 } " +
      extra_ip + " } approx_dropout_param { ";
  text += g.kind == MaskKind::Tiles ? "pattern: TILE tile_size: " + std::to_string(g.tile) + " "
                                    : std::string("pattern: ROW ");
  if (g.kind == MaskKind::InputColumns) text += "drop_side: INPUT ";
  if (g.rotate) text += "rotate_offset: true ";
  if (g.blocks) text += "row_layout: BLOCKS ";
  if (g.kind == MaskKind::Tiles && with_order) {
    text += "tile_order: " + ApproxDropoutParameter::TileOrder_Name(proto_order(g.order)) + " ";
  }
  text += "scale: " + ApproxDropoutParameter::Scale_Name(g.scale) +
          " dropout_ratio: " + std::to_string(g.ratio) + " ";
  if (!schedule_file.empty()) text += "schedule_file: '" + schedule_file + "' ";
  return text + "}";
}

InnerProductApproxDropoutLayer& as_approx(Layer& layer) {
  return dynamic_cast<InnerProductApproxDropoutLayer&>(layer);
}

// Whether weight (j, k) takes part for row n of x under the pattern (the explicit mask).
bool kept(const Geometry& g, DropPattern p, int j, int k, int n) {
  switch (g.kind) {
    case MaskKind::OutputRows:
      return test::in_unit_class(j, g.outputs, p.period, p.offset, g.blocks);
    case MaskKind::InputColumns:
      return test::in_unit_class(k, g.inputs, p.period, (p.offset + (g.rotate ? n : 0)) % p.period,
                                 g.blocks);
    case MaskKind::Tiles: {
      const int tile_cols = (g.inputs + g.tile - 1) / g.tile;
      const int row_step = g.order == TileOrder::RowMajor ? tile_cols : 1;
      return (j / g.tile * row_step + k / g.tile) % p.period == p.offset;
    }
  }
  return false;
}

// ... for some row of a batch of `batch`.
bool weight_used(const Geometry& g, DropPattern p, int batch, int j, int k) {
  for (int n = 0; n < batch; ++n) {
    if (kept(g, p, j, k, n)) return true;
  }
  return false;
}

bool output_kept(const Geometry& g, DropPattern p, int j) {
  return g.kind != MaskKind::OutputRows || kept(g, p, j, 0, 0);
}
bool input_kept(const Geometry& g, DropPattern p, int k, int n) {
  return g.kind != MaskKind::InputColumns || kept(g, p, 0, k, n);
}

// The TRAIN formula and its gradients, straight from the definition:
//   y = s · x (W ⊙ Mask)ᵀ + c,  c_j = s · keep_j · bias_j for ROW/OUTPUT, else bias_j.
struct Reference {
  std::vector<double> y, dx, dweight, dbias;
  Reference(const Geometry& g, DropPattern p, int batch, const float* x, const float* weight,
            const float* bias, const float* dy) {
    const int M = g.outputs, K = g.inputs;
    const double dp = kept_factor(g, p);  // s
    y.assign(static_cast<size_t>(batch) * M, 0.0);
    dx.assign(static_cast<size_t>(batch) * K, 0.0);
    dweight.assign(static_cast<size_t>(M) * K, 0.0);
    dbias.assign(M, 0.0);
    for (int n = 0; n < batch; ++n) {
      for (int j = 0; j < M; ++j) {
        double sum = 0;
        for (int k = 0; k < K; ++k) {
          if (kept(g, p, j, k, n)) sum += dp * x[n * K + k] * weight[j * K + k];
        }
        if (bias) {
          if (g.kind != MaskKind::OutputRows) {
            sum += bias[j];
          } else if (output_kept(g, p, j)) {
            sum += dp * bias[j];
          }
        }
        y[n * M + j] = sum;
      }
    }
    for (int n = 0; n < batch; ++n) {
      for (int j = 0; j < M; ++j) {
        for (int k = 0; k < K; ++k) {
          if (!kept(g, p, j, k, n)) continue;
          dx[n * K + k] += dp * dy[n * M + j] * weight[j * K + k];
          dweight[j * K + k] += dp * dy[n * M + j] * x[n * K + k];
        }
        if (output_kept(g, p, j)) {
          dbias[j] += (g.kind == MaskKind::OutputRows ? dp : 1.0) * dy[n * M + j];
        }
      }
    }
  }
};

void expect_close(double expected, float actual, const std::string& what) {
  ASSERT_TRUE(std::isfinite(actual)) << what << " is " << actual << ", expected " << expected;
  EXPECT_NEAR(expected, actual, 1e-4 * std::max(1.0, std::fabs(expected))) << what;
}

// Sets up the layer for `pattern` (no schedule), poisons every dropped weight, input and output
// gradient with NaN, runs forward + backward in `mode` and compares with the reference.
// `claimed_zero` is set as x's ColumnPattern (without zeroing those columns).
void check_against_reference(const Geometry& g, DropPattern pattern, Mode mode,
                             std::vector<int> bottom_shape = {}, const std::string& extra_ip = "",
                             bool bias = true, ColumnPattern claimed_zero = {}) {
  const std::string label = settings_name(g) + " M=" + std::to_string(g.outputs) +
                            " K=" + std::to_string(g.inputs) + " tile=" + std::to_string(g.tile) +
                            " dp=" + std::to_string(pattern.period) +
                            " b=" + std::to_string(pattern.offset);
  SCOPED_TRACE(label);
  if (bottom_shape.empty()) bottom_shape = {5, g.inputs};
  auto layer = test::make_layer(layer_text(g, "", extra_ip + (bias ? "" : " bias_term: false")));
  as_approx(*layer).set_fixed_pattern(pattern.period, pattern.offset);
  test::BlobSet bottom, top;
  Blob* x = bottom.add(bottom_shape);
  Blob* y = top.add({});
  test::fill_gaussian(x, 11);
  x->set_column_pattern(claimed_zero);
  layer->SetUp(bottom.ptrs, top.ptrs);
  ASSERT_EQ(layer->blobs().size(), bias ? 2u : 1u);
  const int M = g.outputs, K = g.inputs;
  const int batch = x->count() / K;
  ASSERT_EQ(y->count(), batch * M);
  Blob& weight = *layer->blobs()[0];
  ASSERT_EQ(weight.shape(), (std::vector<int>{M, K}));

  // Poison what the pattern drops.
  for (int j = 0; j < M; ++j) {
    for (int k = 0; k < K; ++k) {
      if (!weight_used(g, pattern, batch, j, k)) weight.mutable_cpu_data()[j * K + k] = kNaN;
    }
  }
  for (int n = 0; n < batch; ++n) {
    for (int k = 0; k < K; ++k) {
      if (!input_kept(g, pattern, k, n)) x->mutable_cpu_data()[n * K + k] = kNaN;
    }
  }
  if (bias && g.kind == MaskKind::OutputRows) {
    for (int j = 0; j < M; ++j) {
      if (!output_kept(g, pattern, j)) layer->blobs()[1]->mutable_cpu_data()[j] = kNaN;
    }
  }
  for (const auto& param : layer->blobs()) {
    std::fill(param->mutable_cpu_diff(), param->mutable_cpu_diff() + param->count(),
              kPrefilledParamDiff);
  }
  std::fill(x->mutable_cpu_diff(), x->mutable_cpu_diff() + x->count(), kNaN);  // overwritten

  set_mode(mode);
  layer->Forward(bottom.ptrs, top.ptrs);
  test::fill_gaussian(y->mutable_cpu_diff(), y->count(), 23);
  for (int n = 0; n < batch; ++n) {
    for (int j = 0; j < M; ++j) {
      if (!output_kept(g, pattern, j)) y->mutable_cpu_diff()[n * M + j] = kNaN;
    }
  }
  layer->Backward(top.ptrs, {true}, bottom.ptrs);
  set_mode(Mode::CPU);

  const Reference ref(g, pattern, batch, x->cpu_data(), weight.cpu_data(),
                      bias ? layer->blobs()[1]->cpu_data() : nullptr, y->cpu_diff());
  for (int i = 0; i < y->count(); ++i) {
    expect_close(ref.y[i], y->cpu_data()[i], "top " + std::to_string(i));
    if (!output_kept(g, pattern, i % M)) {
      EXPECT_EQ(y->cpu_data()[i], 0.0f) << "dropped output";
    }
  }
  for (int i = 0; i < x->count(); ++i) {
    expect_close(ref.dx[i], x->cpu_diff()[i], "bottom diff " + std::to_string(i));
    if (!input_kept(g, pattern, i % K, i / K)) {
      EXPECT_EQ(x->cpu_diff()[i], 0.0f) << "dropped input";
    }
  }
  for (int j = 0; j < M; ++j) {
    for (int k = 0; k < K; ++k) {
      const float actual = weight.cpu_diff()[j * K + k];
      if (weight_used(g, pattern, batch, j, k)) {
        expect_close(kPrefilledParamDiff + ref.dweight[j * K + k], actual,
                     "weight diff (" + std::to_string(j) + ", " + std::to_string(k) + ")");
      } else {
        EXPECT_EQ(actual, kPrefilledParamDiff)
            << "dropped weight (" << j << ", " << k << ") touched";
      }
    }
  }
  if (bias) {
    for (int j = 0; j < M; ++j) {
      expect_close(kPrefilledParamDiff + ref.dbias[j], layer->blobs()[1]->cpu_diff()[j],
                   "bias diff " + std::to_string(j));
    }
  }
}

const std::vector<Geometry>& standard_geometries() {
  // Widths divisible by neither the periods nor the tile size.
  static const std::vector<Geometry> geometries = {{MaskKind::OutputRows, 45, 37},
                                                   {MaskKind::InputColumns, 45, 37},
                                                   {MaskKind::Tiles, 45, 37, 8}};
  return geometries;
}

// Every pattern of periods 1, 2, 3 and 7, under both scalings (at two ratios) and, for TILE,
// both tile orders.
void check_all_patterns(const Geometry& geometry, Mode mode) {
  for (const auto scale : {ApproxDropoutParameter::GLOBAL, ApproxDropoutParameter::PERIOD}) {
    for (const TileOrder order : {TileOrder::Staggered, TileOrder::RowMajor}) {
      if (geometry.kind != MaskKind::Tiles && order == TileOrder::RowMajor) continue;
      Geometry g = geometry;
      g.scale = scale;
      g.order = order;
      g.ratio = scale == ApproxDropoutParameter::GLOBAL ? 0.3f : 0.5f;
      for (int period : {1, 2, 3, 7}) {
        for (int offset = 0; offset < period; ++offset) {
          check_against_reference(g, {period, offset}, mode);
        }
      }
    }
  }
}

TEST(InnerProductApproxDropoutTest, RowOutputMatchesMaskedReference) {
  check_all_patterns(standard_geometries()[0], Mode::CPU);
}

TEST(InnerProductApproxDropoutTest, RowInputMatchesMaskedReference) {
  check_all_patterns(standard_geometries()[1], Mode::CPU);
}

TEST(InnerProductApproxDropoutTest, RowBlocksMatchMaskedReference) {
  for (int side : {0, 1}) {
    Geometry g = standard_geometries()[side];
    g.blocks = true;
    check_all_patterns(g, Mode::CPU);
  }
  // One unit per block at the widest periods.
  check_against_reference({MaskKind::OutputRows, 45, 37, 8, TileOrder::Staggered,
                           ApproxDropoutParameter::GLOBAL, 0.5f, false, true},
                          {45, 44}, Mode::CPU);
}

TEST(InnerProductApproxDropoutTest, RowInputWithRotatingOffsetMatchesMaskedReference) {
  Geometry g = standard_geometries()[1];
  g.rotate = true;
  check_all_patterns(g, Mode::CPU);  // 5 rows: at period 7 two offsets go unused
  g.blocks = true;
  check_all_patterns(g, Mode::CPU);
  // 12 rows (axis 2 of [3, 4, 37]: the rows of every leading index) over periods 2 and 5, and
  // one row per unit at the widest period.
  check_against_reference(g, {2, 1}, Mode::CPU, {3, 4, 37}, "axis: 2");
  check_against_reference(g, {5, 3}, Mode::CPU, {3, 4, 37}, "axis: 2");
  check_against_reference(g, {37, 20}, Mode::CPU, {40, 37});
  // It does not skip the columns a bottom's ColumnPattern marks as zero: were it to skip the
  // marked (but here non-zero) columns, the result would differ from the reference.
  check_against_reference(g, {3, 0}, Mode::CPU, {40, 37}, "", true, ColumnPattern{2, 0, 37});
}

TEST(InnerProductApproxDropoutTest, TileMatchesMaskedReference) {
  check_all_patterns(standard_geometries()[2], Mode::CPU);
}

TEST(InnerProductApproxDropoutTest, TileGridCornerCases) {
  // 5 tile columns, period 5: every tile row keeps the same tile column (one product).
  check_against_reference({MaskKind::Tiles, 45, 40, 8}, {5, 2}, Mode::CPU);
  // 2 tile columns, period 3: some tile rows keep nothing.
  check_against_reference({MaskKind::Tiles, 45, 12, 8}, {3, 2}, Mode::CPU);
  // 1x1 tiles: synapse-level pattern.
  check_against_reference({MaskKind::Tiles, 9, 7, 1}, {4, 3}, Mode::CPU);
  // Tiles taller than W: a single tile row.
  check_against_reference({MaskKind::Tiles, 6, 37, 8}, {3, 1}, Mode::CPU);
  // One tile covering all of W.
  check_against_reference({MaskKind::Tiles, 6, 7, 32}, {1, 0}, Mode::CPU);
  // Period equal to the number of tiles: one tile kept.
  check_against_reference({MaskKind::Tiles, 20, 17, 8}, {9, 8}, Mode::CPU);
}

TEST(InnerProductApproxDropoutTest, LargeLayersPackOnSeveralThreads) {
  // Big enough that packing the kept weights and scattering their gradients split the rows
  // over two threads (caffe/util/parallel.hpp).
  const int saved_threads = blas_threads();
  set_blas_threads(2);
  check_against_reference({MaskKind::Tiles, 1200, 600, 8}, {2, 1}, Mode::CPU);
  check_against_reference({MaskKind::InputColumns, 1200, 600}, {3, 1}, Mode::CPU);
  set_blas_threads(saved_threads);
}

TEST(InnerProductApproxDropoutTest, RowPeriodEqualToWidthKeepsOneUnit) {
  check_against_reference({MaskKind::OutputRows, 45, 37}, {45, 44}, Mode::CPU);
  check_against_reference({MaskKind::InputColumns, 45, 37}, {37, 0}, Mode::CPU);
}

TEST(InnerProductApproxDropoutTest, AxisAndNoBias) {
  // Bottom [2, 3, 4, 5] with axis 2: B = 6, K = 20.
  for (const MaskKind kind : {MaskKind::OutputRows, MaskKind::InputColumns, MaskKind::Tiles}) {
    check_against_reference({kind, 13, 20, 4}, {3, 1}, Mode::CPU, {2, 3, 4, 5}, "axis: 2");
    check_against_reference({kind, 13, 20, 4}, {2, 0}, Mode::CPU, {}, "", /*bias=*/false);
  }
}

TEST(InnerProductApproxDropoutTest, TopShapeAndParams) {
  auto layer = test::make_layer(layer_text({MaskKind::OutputRows, 7, 12}, "", "axis: 2"));
  as_approx(*layer).set_fixed_pattern(2, 1);
  test::BlobSet bottom, top;
  bottom.add({2, 3, 4, 3});
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->shape(), (std::vector<int>{2, 3, 7}));
  EXPECT_EQ(layer->blobs()[0]->shape(), (std::vector<int>{7, 12}));
  EXPECT_EQ(layer->blobs()[1]->shape(), (std::vector<int>{7}));
  EXPECT_GT(layer->blobs()[0]->sumsq_data(), 0.0f);  // the gaussian filler ran
  EXPECT_EQ(as_approx(*layer).current_pattern(), (DropPattern{2, 1}));
  // A different number of inputs per row is an error.
  bottom.ptrs[0]->Reshape({2, 3, 5});
  EXPECT_THROW(layer->Forward(bottom.ptrs, top.ptrs), Error);
}

TEST(InnerProductApproxDropoutTest, GradientCheck) {
  for (const MaskKind kind : {MaskKind::OutputRows, MaskKind::InputColumns, MaskKind::Tiles}) {
    for (const DropPattern pattern : {DropPattern{3, 1}, DropPattern{2, 0}}) {
      SCOPED_TRACE(kind_name(kind) + " dp=" + std::to_string(pattern.period));
      auto layer = test::make_layer(layer_text({kind, 7, 10, 3}));
      as_approx(*layer).set_fixed_pattern(pattern.period, pattern.offset);
      test::BlobSet bottom, top;
      test::fill_gaussian(bottom.add({3, 10}), 5);
      top.add({});
      layer->SetUp(bottom.ptrs, top.ptrs);
      test::check_gradients(*layer, bottom.ptrs, top.ptrs);
    }
  }
}

TEST(InnerProductApproxDropoutTest, TestPhaseIsPlainInnerProduct) {
  // TEST needs no schedule (the file does not exist) and drops nothing.
  for (const Geometry& g : standard_geometries()) {
    SCOPED_TRACE(kind_name(g.kind));
    auto layer = test::make_layer(layer_text(g, "/nonexistent/schedule.pb"), TEST);
    test::BlobSet bottom, top;
    Blob* x = bottom.add({4, g.inputs});
    Blob* y = top.add({});
    test::fill_gaussian(x, 3);
    layer->SetUp(bottom.ptrs, top.ptrs);
    layer->set_step(5, 5);
    EXPECT_EQ(as_approx(*layer).current_pattern(), (DropPattern{1, 0}));
    layer->Forward(bottom.ptrs, top.ptrs);
    std::vector<float> dy(y->count(), 0.0f);
    // Nothing scaled either: the reference with factor 1 (PERIOD at period 1).
    Geometry unscaled = g;
    unscaled.scale = ApproxDropoutParameter::PERIOD;
    const Reference ref(unscaled, {1, 0}, 4, x->cpu_data(), layer->blobs()[0]->cpu_data(),
                        layer->blobs()[1]->cpu_data(), dy.data());
    for (int i = 0; i < y->count(); ++i) expect_close(ref.y[i], y->cpu_data()[i], "top");
  }
}

// ----- schedules -----

// A TILE schedule records `order` (none: the field is left out, as in files from before it).
std::string write_schedule(
    const std::string& name, ApproxDropoutParameter::Pattern pattern,
    const std::vector<uint32_t>& periods, const std::vector<uint32_t>& offsets,
    std::optional<ApproxDropoutParameter::TileOrder> order = ApproxDropoutParameter::STAGGERED) {
  DropoutSchedule schedule;
  schedule.set_pattern(pattern);
  if (pattern == ApproxDropoutParameter::TILE && order) schedule.set_tile_order(*order);
  schedule.set_target_ratio(0.5f);
  for (uint32_t period : periods) schedule.add_period(period);
  for (uint32_t offset : offsets) schedule.add_offset(offset);
  const std::string path = test::temp_file_path("approx_ip_" + name);
  write_proto_to_binary_file(schedule, path);
  return path;
}

// The error SetUp raises ("" if none).
std::string setup_error(const std::string& text, Phase phase = TRAIN, int inputs = 37) {
  auto layer = test::make_layer(text, phase);
  test::BlobSet bottom, top;
  bottom.add({2, inputs});
  top.add({});
  try {
    layer->SetUp(bottom.ptrs, top.ptrs);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(InnerProductApproxDropoutTest, FollowsTheScheduleByIteration) {
  const std::vector<uint32_t> periods = {2, 3, 1, 7};
  const std::vector<uint32_t> offsets = {1, 2, 0, 3};
  const Geometry g{MaskKind::Tiles, 45, 37, 8};
  const std::string path = write_schedule("tile", ApproxDropoutParameter::TILE, periods, offsets);
  auto layer = test::make_layer(layer_text(g, path));
  test::BlobSet bottom, top;
  Blob* x = bottom.add({3, g.inputs});
  Blob* y = top.add({});
  test::fill_gaussian(x, 9);
  layer->SetUp(bottom.ptrs, top.ptrs);
  for (int iteration : {0, 1, 2, 3, 6, 9}) {  // 6 and 9 wrap around
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    layer->set_step(iteration, iteration);
    const DropPattern expected{static_cast<int>(periods[iteration % 4]),
                               static_cast<int>(offsets[iteration % 4])};
    EXPECT_EQ(as_approx(*layer).current_pattern(), expected);
    layer->Forward(bottom.ptrs, top.ptrs);
    std::vector<float> dy(y->count(), 0.0f);
    const Reference ref(g, expected, 3, x->cpu_data(), layer->blobs()[0]->cpu_data(),
                        layer->blobs()[1]->cpu_data(), dy.data());
    for (int i = 0; i < y->count(); ++i) expect_close(ref.y[i], y->cpu_data()[i], "top");
  }
  // A fixed pattern overrides the schedule.
  as_approx(*layer).set_fixed_pattern(5, 4);
  EXPECT_EQ(as_approx(*layer).current_pattern(), (DropPattern{5, 4}));
  std::remove(path.c_str());
}

TEST(InnerProductApproxDropoutTest, MissingScheduleFilePrintsTheGeneratorCommand) {
  const Geometry g{MaskKind::OutputRows, 45, 37};
  const std::string missing = test::temp_file_path("approx_ip_missing");
  std::string error = setup_error(layer_text(g, missing));
  EXPECT_NE(error.find("python -m caffe.approx_dropout"), std::string::npos) << error;
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  EXPECT_NE(error.find("--max-period 45"), std::string::npos) << error;
  EXPECT_NE(error.find("layer 'ipad'"), std::string::npos) << error;
  // Not set at all.
  error = setup_error(layer_text(g));
  EXPECT_NE(error.find("schedule_file is not set"), std::string::npos) << error;
  EXPECT_NE(error.find("python -m caffe.approx_dropout"), std::string::npos) << error;
  // ROW/INPUT ranges over K, TILE over the tiles (6 x 5 here).
  error = setup_error(layer_text({MaskKind::InputColumns, 45, 37}, missing));
  EXPECT_NE(error.find("--max-period 37"), std::string::npos) << error;
  error = setup_error(layer_text({MaskKind::Tiles, 45, 37, 8}, missing));
  EXPECT_NE(error.find("--pattern tile --max-period 30"), std::string::npos) << error;
}

TEST(InnerProductApproxDropoutTest, CorruptScheduleIsAnError) {
  const Geometry g{MaskKind::OutputRows, 45, 37};
  const std::string garbage = test::temp_file_path("approx_ip_garbage");
  write_file_atomically(garbage, std::string("\xff\xff\xff\xff not a schedule", 20));
  std::string error = setup_error(layer_text(g, garbage));
  EXPECT_NE(error.find("not a valid binary caffe.DropoutSchedule"), std::string::npos) << error;

  // A valid schedule cut short in the middle of its entries.
  const std::string path =
      write_schedule("whole", ApproxDropoutParameter::ROW, std::vector<uint32_t>(50, 300),
                     std::vector<uint32_t>(50, 7));
  const std::string bytes = read_file(path);
  const std::string truncated = test::temp_file_path("approx_ip_truncated");
  write_file_atomically(truncated, bytes.substr(0, bytes.size() - 10));
  error = setup_error(layer_text(g, truncated));
  EXPECT_NE(error.find("truncated or corrupt"), std::string::npos) << error;
  for (const std::string& file : {garbage, path, truncated}) std::remove(file.c_str());
}

TEST(InnerProductApproxDropoutTest, InvalidSchedulesAreErrors) {
  const Geometry row{MaskKind::OutputRows, 45, 37};
  struct Case {
    const char* name;
    ApproxDropoutParameter::Pattern pattern;
    std::vector<uint32_t> periods, offsets;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"mismatch",
       ApproxDropoutParameter::TILE,
       {2},
       {0},
       "holds TILE patterns but the layer uses ROW"},
      {"offset",
       ApproxDropoutParameter::ROW,
       {2, 3},
       {1, 3},
       "entry 1: dropout offset 3 must be in [0, period 3)"},
      {"zero",
       ApproxDropoutParameter::ROW,
       {2, 0},
       {0, 0},
       "entry 1: dropout period 0 must be at least 1"},
      {"wide", ApproxDropoutParameter::ROW, {46}, {0}, "entry 0: dropout period 46 exceeds the 45"},
      {"lengths", ApproxDropoutParameter::ROW, {2, 2}, {0}, "2 periods but 1 offsets"},
      {"empty", ApproxDropoutParameter::ROW, {}, {}, "has no entries"},
  };
  for (const Case& c : cases) {
    const std::string path = write_schedule(c.name, c.pattern, c.periods, c.offsets);
    const std::string error = setup_error(layer_text(row, path));
    EXPECT_NE(error.find(c.message), std::string::npos) << c.name << ": " << error;
    EXPECT_NE(error.find(path), std::string::npos) << c.name << ": " << error;
    std::remove(path.c_str());
  }
  // TILE's bound is the number of tiles: 6 x 5 = 30 for 45 x 37 with tile 8.
  const std::string path = write_schedule("tiles", ApproxDropoutParameter::TILE, {30, 31}, {0, 0});
  const std::string error = setup_error(layer_text({MaskKind::Tiles, 45, 37, 8}, path));
  EXPECT_NE(error.find("entry 1: dropout period 31 exceeds the 30"), std::string::npos) << error;
  std::remove(path.c_str());
}

TEST(InnerProductApproxDropoutTest, InvalidSettingsAreErrors) {
  const Geometry g{MaskKind::OutputRows, 45, 37};
  std::string error = setup_error(layer_text(g, "", "transpose: true"), TEST);
  EXPECT_NE(error.find("transpose is not supported"), std::string::npos) << error;
  error = setup_error(layer_text({MaskKind::Tiles, 45, 37, 0}), TEST);
  EXPECT_NE(error.find("tile_size must be positive"), std::string::npos) << error;

  auto layer = test::make_layer(layer_text(g));
  auto& approx = as_approx(*layer);
  EXPECT_THROW(approx.set_fixed_pattern(0, 0), Error);
  EXPECT_THROW(approx.set_fixed_pattern(3, 3), Error);
  EXPECT_THROW(approx.set_fixed_pattern(3, -1), Error);
  // A fixed period wider than the layer fails when used.
  approx.set_fixed_pattern(46, 0);
  test::BlobSet bottom, top;
  bottom.add({2, 37});
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  const std::string wide_period = test::error_of([&] { layer->Forward(bottom.ptrs, top.ptrs); });
  EXPECT_NE(wide_period.find("period 46 exceeds the 45"), std::string::npos) << wide_period;
}

// ----- scaling and tile order -----

// s · Mask [M][K] as the layer applies it at the current step: with W = 1, no bias and x = I_K,
// row n of y is s · Mask(·, n).
std::vector<std::vector<double>> scaled_mask(Layer& layer, const Geometry& g) {
  test::BlobSet bottom, top;
  Blob* x = bottom.add({g.inputs, g.inputs});
  top.add({});
  std::fill(x->mutable_cpu_data(), x->mutable_cpu_data() + x->count(), 0.0f);
  for (int k = 0; k < g.inputs; ++k) x->mutable_cpu_data()[k * g.inputs + k] = 1.0f;
  Blob& weight = *layer.blobs()[0];
  std::fill(weight.mutable_cpu_data(), weight.mutable_cpu_data() + weight.count(), 1.0f);
  layer.Reshape(bottom.ptrs, top.ptrs);
  layer.Forward(bottom.ptrs, top.ptrs);
  std::vector<std::vector<double>> mask(g.outputs, std::vector<double>(g.inputs));
  for (int j = 0; j < g.outputs; ++j) {
    for (int k = 0; k < g.inputs; ++k) mask[j][k] = top.ptrs[0]->cpu_data()[k * g.outputs + j];
  }
  return mask;
}

// A layer without bias over `g` following the schedule at `path`, set up.
std::unique_ptr<Layer> scheduled_layer(const Geometry& g, const std::string& path,
                                       bool with_order = true) {
  auto layer = test::make_layer(layer_text(g, path, "bias_term: false", with_order));
  test::BlobSet bottom, top;
  bottom.add({1, g.inputs});
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  return layer;
}

TEST(InnerProductApproxDropoutTest, BothScalingsAreUnbiasedOverAnExactSchedule) {
  // Schedules whose rate is exactly p and whose periods use every offset equally often:
  // p = 0.5 from 1/3 of period 1 and 2/3 of period 4; p = 0.3 from 0.4 of period 1, 0.6 of 2.
  struct Exact {
    float ratio;
    std::vector<uint32_t> periods, offsets;
  };
  const std::vector<Exact> schedules = {
      {0.5f, {4, 1, 4, 4, 1, 4}, {2, 0, 0, 3, 0, 1}},
      {0.3f, {2, 1, 2, 1, 2, 2, 1, 2, 1, 2}, {1, 0, 0, 0, 1, 0, 0, 1, 0, 0}},
  };
  const std::vector<Geometry> geometries = {{MaskKind::OutputRows, 13, 10},
                                            {MaskKind::InputColumns, 13, 10},
                                            {MaskKind::Tiles, 13, 10, 3, TileOrder::Staggered},
                                            {MaskKind::Tiles, 13, 10, 3, TileOrder::RowMajor}};
  for (const Exact& exact : schedules) {
    for (Geometry g : geometries) {
      for (const auto scale : {ApproxDropoutParameter::GLOBAL, ApproxDropoutParameter::PERIOD}) {
        g.scale = scale;
        g.ratio = exact.ratio;
        SCOPED_TRACE(settings_name(g) + " p=" + std::to_string(exact.ratio));
        const auto pattern =
            g.kind == MaskKind::Tiles ? ApproxDropoutParameter::TILE : ApproxDropoutParameter::ROW;
        const std::string path =
            write_schedule("exact", pattern, exact.periods, exact.offsets, proto_order(g.order));
        auto layer = scheduled_layer(g, path);
        std::vector<std::vector<double>> mean(g.outputs, std::vector<double>(g.inputs, 0.0));
        const int length = static_cast<int>(exact.periods.size());
        for (int iteration = 0; iteration < length; ++iteration) {
          layer->set_step(iteration, iteration);
          const DropPattern p{static_cast<int>(exact.periods[iteration]),
                              static_cast<int>(exact.offsets[iteration])};
          const auto mask = scaled_mask(*layer, g);
          for (int j = 0; j < g.outputs; ++j) {
            for (int k = 0; k < g.inputs; ++k) {
              // Each step applies the definition's factor to the kept weights only.
              const double expected = kept(g, p, j, k, 0) ? kept_factor(g, p) : 0.0;
              ASSERT_NEAR(mask[j][k], expected, 1e-5) << "iteration " << iteration;
              mean[j][k] += mask[j][k] / length;
            }
          }
        }
        for (int j = 0; j < g.outputs; ++j) {
          for (int k = 0; k < g.inputs; ++k) {
            EXPECT_NEAR(mean[j][k], 1.0, 1e-6) << "weight (" << j << ", " << k << ")";
          }
        }
        std::remove(path.c_str());
      }
    }
  }
}

TEST(InnerProductApproxDropoutTest, StaggeredTileRowsKeepDifferentColumns) {
  // 64 x 64 with tiles of 8: 8 x 8 tiles, and every period that divides 8.
  for (const int period : {2, 4, 8}) {
    for (int offset = 0; offset < period; ++offset) {
      SCOPED_TRACE("dp=" + std::to_string(period) + " b=" + std::to_string(offset));
      const Geometry staggered{MaskKind::Tiles, 64, 64, 8, TileOrder::Staggered};
      const Geometry row_major{MaskKind::Tiles, 64, 64, 8, TileOrder::RowMajor};
      // The kept tile columns of each tile row, read from the layer's mask.
      const auto kept_columns = [&](const Geometry& g) {
        auto layer = test::make_layer(layer_text(g, "", "bias_term: false"));
        as_approx(*layer).set_fixed_pattern(period, offset);
        test::BlobSet bottom, top;
        bottom.add({1, g.inputs});
        top.add({});
        layer->SetUp(bottom.ptrs, top.ptrs);
        const auto mask = scaled_mask(*layer, g);
        std::vector<std::set<int>> columns(8);
        for (int r = 0; r < 8; ++r) {
          for (int c = 0; c < 8; ++c) {
            if (mask[r * 8][c * 8] != 0.0) columns[r].insert(c);
          }
        }
        return columns;
      };
      const auto columns = kept_columns(staggered);
      for (int r = 0; r < 8; ++r) {
        EXPECT_EQ(columns[r].size(), 8u / period) << "tile row " << r;
        // Any `period` consecutive tile rows keep pairwise different columns, together all.
        for (int other = r + 1; other < std::min(8, r + period); ++other) {
          for (int c : columns[r]) EXPECT_EQ(columns[other].count(c), 0u) << r << " " << other;
        }
      }
      // The old numbering keeps the same columns in every tile row (input-block dropout).
      const auto old_columns = kept_columns(row_major);
      for (int r = 1; r < 8; ++r) EXPECT_EQ(old_columns[r], old_columns[0]) << "tile row " << r;
    }
  }
  // The product stays exact where the staggering wraps over uneven grids.
  for (const DropPattern p : {DropPattern{2, 1}, DropPattern{4, 3}, DropPattern{8, 5}}) {
    check_against_reference({MaskKind::Tiles, 64, 64, 8}, p, Mode::CPU);
    check_against_reference({MaskKind::Tiles, 45, 64, 8}, p, Mode::CPU);
  }
}

TEST(InnerProductApproxDropoutTest, ScheduleFilesKeepTheirTileOrder) {
  const std::vector<uint32_t> periods = {2}, offsets = {1};
  Geometry g{MaskKind::Tiles, 16, 16, 4};
  // A file from before tile_order, read by a layer that does not set it: ROW_MAJOR.
  std::string path =
      write_schedule("old", ApproxDropoutParameter::TILE, periods, offsets, std::nullopt);
  auto layer = scheduled_layer(g, path, /*with_order=*/false);
  EXPECT_EQ(as_approx(*layer).mask_shape().tile_order, TileOrder::RowMajor);
  g.order = TileOrder::RowMajor;
  EXPECT_EQ(scaled_mask(*layer, g)[0][0], 0.0);  // tile (0, 0) is even: dropped for b = 1
  EXPECT_EQ(scaled_mask(*layer, g)[4][4], 2.0);  // tile (1, 1) is 5: kept, times 1/(1 - 0.5)
  // The same file under an explicit STAGGERED layer is an error naming both and the command.
  g.order = TileOrder::Staggered;
  std::string error = setup_error(layer_text(g, path), TRAIN, 16);
  EXPECT_NE(error.find("numbered ROW_MAJOR but the layer sets tile_order: STAGGERED"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("--tile-order staggered"), std::string::npos) << error;
  std::remove(path.c_str());
  // A file that records STAGGERED is followed by a layer that does not set the order.
  path = write_schedule("new", ApproxDropoutParameter::TILE, periods, offsets,
                        ApproxDropoutParameter::STAGGERED);
  layer = scheduled_layer(g, path, /*with_order=*/false);
  EXPECT_EQ(as_approx(*layer).mask_shape().tile_order, TileOrder::Staggered);
  EXPECT_EQ(scaled_mask(*layer, g)[0][4], 2.0);  // tile (0, 1): 0 + 1 is odd
  EXPECT_EQ(scaled_mask(*layer, g)[4][4], 0.0);  // tile (1, 1): 1 + 1 is even
  std::remove(path.c_str());
}

TEST(InnerProductApproxDropoutTest, GlobalScaleNeedsARatioBelowOne) {
  Geometry g{MaskKind::OutputRows, 45, 37};
  for (const float ratio : {1.0f, -0.25f}) {
    g.ratio = ratio;
    const std::string path = write_schedule("ratio", ApproxDropoutParameter::ROW, {2}, {0});
    const std::string error = setup_error(layer_text(g, path));
    EXPECT_NE(error.find("dropout_ratio must be in [0, 1)"), std::string::npos) << error;
    // PERIOD does not use the ratio, and TEST scales nothing.
    g.scale = ApproxDropoutParameter::PERIOD;
    EXPECT_EQ(setup_error(layer_text(g, path)), "");
    g.scale = ApproxDropoutParameter::GLOBAL;
    EXPECT_EQ(setup_error(layer_text(g, path), TEST), "");
    std::remove(path.c_str());
  }
}

// ----- GPU -----

TEST(InnerProductApproxDropoutTest, GpuMatchesMaskedReference) {
  SKIP_IF_NO_GPU();
  for (const Geometry& g : standard_geometries()) check_all_patterns(g, Mode::GPU);
  check_against_reference({MaskKind::Tiles, 45, 12, 8}, {3, 2}, Mode::GPU);
  check_against_reference({MaskKind::Tiles, 45, 40, 8}, {5, 2}, Mode::GPU);
  check_against_reference({MaskKind::InputColumns, 13, 20}, {2, 0}, Mode::GPU, {}, "", false);
}

TEST(InnerProductApproxDropoutTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const std::vector<std::pair<Geometry, ApproxDropoutParameter::Pattern>> layers = {
      {{MaskKind::OutputRows, 45, 37}, ApproxDropoutParameter::ROW},
      {{MaskKind::InputColumns, 45, 37}, ApproxDropoutParameter::ROW},
      {{MaskKind::Tiles, 45, 37, 8}, ApproxDropoutParameter::TILE}};
  for (const auto& [g, pattern] : layers) {
    for (const DropPattern p : {DropPattern{1, 0}, DropPattern{3, 2}, DropPattern{7, 4}}) {
      SCOPED_TRACE(kind_name(g.kind) + " dp=" + std::to_string(p.period));
      const std::string path = write_schedule("gpu", pattern, {static_cast<uint32_t>(p.period)},
                                              {static_cast<uint32_t>(p.offset)});
      test::check_gpu_matches_cpu(layer_text(g, path), {{6, g.inputs}},
                                  [](BlobVec& bottom) { test::fill_gaussian(bottom[0], 17); });
      std::remove(path.c_str());
    }
  }
}

TEST(InnerProductApproxDropoutTest, GpuGradientCheck) {
  SKIP_IF_NO_GPU();
  test::GpuModeScope gpu;
  for (const MaskKind kind : {MaskKind::OutputRows, MaskKind::InputColumns, MaskKind::Tiles}) {
    SCOPED_TRACE(kind_name(kind));
    auto layer = test::make_layer(layer_text({kind, 7, 10, 3}));
    as_approx(*layer).set_fixed_pattern(3, 1);
    test::BlobSet bottom, top;
    test::fill_gaussian(bottom.add({3, 10}), 5);
    top.add({});
    layer->SetUp(bottom.ptrs, top.ptrs);
    test::check_gradients(*layer, bottom.ptrs, top.ptrs);
  }
}

}  // namespace
}  // namespace caffe
