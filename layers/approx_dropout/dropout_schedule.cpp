#include "layers/approx_dropout/dropout_schedule.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "caffe/core/common.hpp"
#include "caffe/util/io.hpp"

namespace caffe {
namespace approx_dropout {
namespace {

thread_local bool planning = false;  // a PlanningScope is alive on this thread

const char* pattern_name(ApproxDropoutParameter::Pattern pattern) {
  return pattern == ApproxDropoutParameter::TILE ? "TILE" : "ROW";
}

const char* tile_order_name(ApproxDropoutParameter::TileOrder order) {
  return order == ApproxDropoutParameter::STAGGERED ? "STAGGERED" : "ROW_MAJOR";
}

TileOrder to_tile_order(ApproxDropoutParameter::TileOrder order) {
  return order == ApproxDropoutParameter::STAGGERED ? TileOrder::Staggered : TileOrder::RowMajor;
}

}  // namespace

std::string schedule_generator_hint(const ApproxDropoutParameter& param, long long width) {
  const std::string out = param.schedule_file().empty() ? "<file>" : param.schedule_file();
  std::ostringstream hint;
  hint << "generate it with\n"
       << "  python -m caffe.approx_dropout --net <train prototxt> --iterations <max_iter>\n"
       << "or, for this layer alone,\n"
       << "  python -m caffe.approx_dropout --ratio " << param.dropout_ratio() << " --pattern "
       << (param.pattern() == ApproxDropoutParameter::TILE ? "tile" : "row") << " --max-period "
       << width;
  if (param.pattern() == ApproxDropoutParameter::TILE) {
    hint << " --tile-order "
         << (param.tile_order() == ApproxDropoutParameter::STAGGERED ? "staggered" : "row-major");
  }
  hint << " --out " << out;
  return hint.str();
}

void check_pattern(DropPattern pattern, long long width) {
  if (pattern.period < 1) fail("dropout period ", pattern.period, " must be at least 1");
  if (pattern.offset < 0 || pattern.offset >= pattern.period) {
    fail("dropout offset ", pattern.offset, " must be in [0, period ", pattern.period, ")");
  }
  if (pattern.period > width) {
    fail("dropout period ", pattern.period, " exceeds the ", width,
         " units (or tiles) the pattern ranges over, so it could drop everything");
  }
}

DropoutSchedule::DropoutSchedule(const ApproxDropoutParameter& param, long long width)
    : path_(param.schedule_file()) {
  if (path_.empty()) {
    fail(
        "approx_dropout_param.schedule_file is not set; TRAIN needs a precomputed dropout "
        "schedule: ",
        schedule_generator_hint(param, width));
  }
  if (!std::ifstream(path_, std::ios::binary)) {
    fail("cannot open the dropout schedule '", path_, "' (", std::strerror(errno), "); ",
         schedule_generator_hint(param, width));
  }
  ::caffe::DropoutSchedule schedule;
  try {
    read_proto_from_binary_file(path_, &schedule);
  } catch (const Error& error) {
    fail("cannot read the dropout schedule: ", error.what(), "; ",
         schedule_generator_hint(param, width));
  }
  const auto context = [&] { return "dropout schedule '" + path_ + "': "; };
  if (schedule.pattern() != param.pattern()) {
    fail(context(), "it holds ", pattern_name(schedule.pattern()), " patterns but the layer uses ",
         pattern_name(param.pattern()), "; ", schedule_generator_hint(param, width));
  }
  // Files from before tile_order existed do not set it: they meant ROW_MAJOR, its proto default.
  tile_order_ = schedule.tile_order();
  if (param.pattern() == ApproxDropoutParameter::TILE && param.has_tile_order() &&
      param.tile_order() != tile_order_) {
    fail(context(), "its tiles are numbered ", tile_order_name(tile_order_),
         " but the layer sets tile_order: ", tile_order_name(param.tile_order()), "; ",
         schedule_generator_hint(param, width));
  }
  if (schedule.period_size() != schedule.offset_size()) {
    fail(context(), "it has ", schedule.period_size(), " periods but ", schedule.offset_size(),
         " offsets (corrupt file?)");
  }
  if (schedule.period_size() == 0) fail(context(), "it has no entries");
  patterns_.reserve(schedule.period_size());
  for (int i = 0; i < schedule.period_size(); ++i) {
    // Clamped so that huge values fail the range checks instead of wrapping.
    const DropPattern pattern{static_cast<int>(std::min<uint32_t>(schedule.period(i), INT_MAX)),
                              static_cast<int>(std::min<uint32_t>(schedule.offset(i), INT_MAX))};
    try {
      check_pattern(pattern, width);
    } catch (const Error& error) {
      fail(context(), "entry ", i, ": ", error.what());
    }
    patterns_.push_back(pattern);
  }
}

DropPattern DropoutSchedule::pattern_at(int iteration) const {
  const int entry = iteration < 0 ? 0 : iteration % length();
  if (iteration >= length() && !warned_wrap_) {
    LOG(WARNING) << "dropout schedule '" << path_ << "' has " << length()
                 << " entries but training reached iteration " << iteration
                 << "; it wraps around (entry = iteration mod " << length()
                 << "). Generate a longer schedule to avoid repeating patterns.";
    warned_wrap_ = true;
  }
  return patterns_[entry];
}

void PatternSource::set_fixed(int period, int offset) {
  check_pattern({period, offset}, LLONG_MAX);  // the width is checked in at()
  fixed_ = DropPattern{period, offset};
}

PlanningScope::PlanningScope() : outer_(planning) { planning = true; }

PlanningScope::~PlanningScope() { planning = outer_; }

void PatternSource::Load(const ApproxDropoutParameter& param, Phase phase, long long width) {
  blocks_ = param.row_layout() == ApproxDropoutParameter::BLOCKS;
  if (blocks_ && param.pattern() == ApproxDropoutParameter::TILE) {
    fail("approx_dropout_param.row_layout: BLOCKS applies to pattern ROW only");
  }
  width_ = width;
  scale_ = param.scale();
  dropout_ratio_ = param.dropout_ratio();
  if (phase == TRAIN && scale_ == ApproxDropoutParameter::GLOBAL &&
      !(dropout_ratio_ >= 0.0f && dropout_ratio_ < 1.0f)) {
    fail("approx_dropout_param.dropout_ratio must be in [0, 1) to scale by 1/(1 - ratio) ",
         "(scale: GLOBAL), got ", dropout_ratio_);
  }
  if (phase == TRAIN && !fixed_ && planning) fixed_ = DropPattern{1, 0};
  if (phase == TRAIN && !fixed_) schedule_.emplace(param, width);
  const bool follows_schedule = schedule_ && !param.has_tile_order();
  tile_order_ = to_tile_order(follows_schedule ? schedule_->tile_order() : param.tile_order());
}

float kept_scale(ApproxDropoutParameter::Scale scale, float dropout_ratio, DropPattern pattern) {
  if (scale == ApproxDropoutParameter::PERIOD) return static_cast<float>(pattern.period);
  return 1.0f / (1.0f - dropout_ratio);
}

float PatternSource::scale(Phase phase, DropPattern pattern) const {
  return phase == TEST ? 1.0f : kept_scale(scale_, dropout_ratio_, pattern);
}

DropPattern PatternSource::at(Phase phase, int iteration) const {
  if (phase == TEST) return {1, 0};
  if (!fixed_ && !schedule_) fail("has no dropout pattern yet: set the layer up first");
  DropPattern pattern = fixed_ ? *fixed_ : schedule_->pattern_at(iteration);
  check_pattern(pattern, width_);
  pattern.blocks = blocks_;
  return pattern;
}

MaskKind mask_kind(const ApproxDropoutParameter& param) {
  if (param.pattern() == ApproxDropoutParameter::TILE) return MaskKind::Tiles;
  return param.drop_side() == ApproxDropoutParameter::INPUT ? MaskKind::InputColumns
                                                            : MaskKind::OutputRows;
}

int checked_tile_size(const ApproxDropoutParameter& param) {
  if (param.tile_size() == 0 || param.tile_size() > INT_MAX) {
    fail("approx_dropout_param.tile_size must be positive, got ", param.tile_size());
  }
  return static_cast<int>(param.tile_size());
}

bool checked_rotate_offset(const ApproxDropoutParameter& param, MaskKind kind) {
  if (param.rotate_offset() && kind != MaskKind::InputColumns) {
    fail("approx_dropout_param.rotate_offset applies to pattern ROW with drop_side INPUT only; ",
         "this layer drops ", kind == MaskKind::Tiles ? "tiles of W" : "output units");
  }
  return param.rotate_offset();
}

}  // namespace approx_dropout
}  // namespace caffe
