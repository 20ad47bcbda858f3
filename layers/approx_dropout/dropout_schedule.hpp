// The precomputed per-iteration dropout patterns of an approximate-dropout layer: a binary
// caffe::DropoutSchedule message written by `python -m caffe.approx_dropout` (docs/architecture.md,
// "Approximate Random Dropout"), indexed by the solver iteration so that a resumed run continues
// exactly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "caffe/util/masked_product.hpp"
#include "proto/caffe.pb.h"

namespace caffe {
namespace approx_dropout {

// (Named like the protobuf message it reads; the namespace keeps them apart.)
class DropoutSchedule {
 public:
  // Reads param.schedule_file for a layer whose patterns range over `width` units (or tiles), and
  // checks it: the file's pattern kind is param.pattern(), it has as many offsets as periods (at
  // least one), every entry has 1 <= period <= width and offset < period, and a TILE file's tile
  // order is param.tile_order() when the layer sets one.  A missing file is an error that prints
  // the command generating it.
  DropoutSchedule(const ApproxDropoutParameter& param, long long width);

  // Entry `iteration mod length()`; warns once when training outlasts the schedule.
  DropPattern pattern_at(int iteration) const;
  int length() const { return static_cast<int>(patterns_.size()); }
  const std::string& path() const { return path_; }
  // The tile numbering the file was generated for (ROW_MAJOR when it does not say).
  ApproxDropoutParameter::TileOrder tile_order() const { return tile_order_; }

 private:
  std::string path_;
  std::vector<DropPattern> patterns_;
  ApproxDropoutParameter::TileOrder tile_order_ = ApproxDropoutParameter::ROW_MAJOR;
  mutable bool warned_wrap_ = false;
};

// Where an approximate-dropout layer takes each pass's pattern and scaling from: nothing is
// dropped or scaled in TEST; in TRAIN the schedule's entry for the iteration, or a fixed pattern
// (tests, experiments), and approx_dropout_param.scale.
class PatternSource {
 public:
  // Uses (period, offset) for every TRAIN pass; called before Load, no schedule file is read.
  // Its width is checked when it is used.
  void set_fixed(int period, int offset);
  // For a layer whose patterns range over `width` units (or tiles): reads param.schedule_file
  // in TRAIN unless a fixed pattern is set, the scaling (an error for a dropout_ratio
  // outside [0, 1) under GLOBAL in TRAIN) and the row layout (BLOCKS is an error for TILE).
  void Load(const ApproxDropoutParameter& param, Phase phase, long long width);
  // (1, 0) in TEST, else the fixed pattern or the schedule's entry for `iteration` (its units
  // contiguous blocks under row_layout: BLOCKS).
  DropPattern at(Phase phase, int iteration) const;
  // The factor of the kept outputs for `pattern` (see kept_scale); 1 in TEST.
  float scale(Phase phase, DropPattern pattern) const;
  // How TILE numbers its tiles: approx_dropout_param.tile_order when set, else the schedule's
  // (absent in a file: ROW_MAJOR), else the parameter's default.
  TileOrder tile_order() const { return tile_order_; }

 private:
  std::optional<DropPattern> fixed_;
  std::optional<DropoutSchedule> schedule_;  // TRAIN only
  long long width_ = 0;
  ApproxDropoutParameter::Scale scale_ = ApproxDropoutParameter::GLOBAL;
  float dropout_ratio_ = 0.0f;
  TileOrder tile_order_ = TileOrder::RowMajor;
  bool blocks_ = false;  // ROW with row_layout BLOCKS: the patterns' units are contiguous blocks
};

// What approximate dropout multiplies the kept outputs by in TRAIN for an iteration's pattern:
// GLOBAL, the constant 1/(1 − dropout_ratio); PERIOD, the period dp.  Either is unbiased over a
// schedule of rate dropout_ratio: each unit is kept in a share 1 − p of the iterations (GLOBAL),
// and in 1/dp of those of period dp (PERIOD).  PERIOD's factor grows with the largest period.
float kept_scale(ApproxDropoutParameter::Scale scale, float dropout_ratio, DropPattern pattern);

// While one is alive, PatternSource::Load on this thread reads no schedule file and behaves as if
// the fixed pattern (1, 0) were set: a net built only to read its layers' mask shapes (the schedule
// planner, layer_plan.hpp) needs no schedules yet.  Scopes nest.
class PlanningScope {
 public:
  PlanningScope();
  ~PlanningScope();
  PlanningScope(const PlanningScope&) = delete;
  PlanningScope& operator=(const PlanningScope&) = delete;

 private:
  bool outer_;  // whether an enclosing scope was active
};

// What a layer's pattern ranges over: ROW with drop_side OUTPUT drops output units (rows of W),
// ROW with INPUT input units (columns of W), TILE tiles of W.
MaskKind mask_kind(const ApproxDropoutParameter& param);

// approx_dropout_param.tile_size as an int, or an error.
int checked_tile_size(const ApproxDropoutParameter& param);

// approx_dropout_param.rotate_offset, or an error when it is set for a layer whose pattern does
// not drop input columns (`kind`).
bool checked_rotate_offset(const ApproxDropoutParameter& param, MaskKind kind);

// How to generate a schedule for a layer with these settings (for error messages).
std::string schedule_generator_hint(const ApproxDropoutParameter& param, long long width);

// Checks one pattern against a layer whose patterns range over `width` units (or tiles).
void check_pattern(DropPattern pattern, long long width);

}  // namespace approx_dropout
}  // namespace caffe
