// Schedule planning for a net: its TRAIN phase's InnerProductApproxDropout and LSTMApproxDropout
// layers, their approx_dropout_param, and how many units (or tiles) each one's patterns range
// over, read from the layers of the real net.  `python -m caffe.approx_dropout --net` sizes the
// schedules it writes with this (caffe._caffe.plan_approx_layers in approx_bindings.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "proto/caffe.pb.h"

namespace caffe {
namespace approx_dropout {

struct TileGrid {
  int rows = 0;  // tile rows of W (over its M outputs)
  int cols = 0;  // tile columns of W (over its K inputs)
};

struct LayerPlan {
  std::string name;
  std::string type;
  // The layer's settings; drop_side is always INPUT for LSTMApproxDropout (set or not), the only
  // side it drops.
  ApproxDropoutParameter param;
  // Units (ROW) or tiles (TILE) the patterns range over, when known.
  std::optional<long long> width;
  std::optional<TileGrid> tiles;  // TILE with a known width
};

struct NetPlan {
  std::vector<LayerPlan> layers;  // in prototxt order
  // Why the TRAIN net could not be built (e.g. a Data layer whose database does not exist yet),
  // "" when it was.  Then only widths that need no input shape are known: num_output for an
  // InnerProductApproxDropout with ROW and drop_side OUTPUT.
  std::string build_error;
};

// Plans the approximate-dropout layers of `net` in phase TRAIN, at the level and stages of the
// net's own `state`.  The widths come from the layers' mask_shape() in the net built without
// reading any schedule file (PlanningScope).  A layer that cannot work (LSTMApproxDropout with ROW
// and drop_side OUTPUT, TILE with tile_size 0, no num_output) is a caffe::Error naming it.
NetPlan plan_layers(const NetParameter& net);

}  // namespace approx_dropout
}  // namespace caffe
