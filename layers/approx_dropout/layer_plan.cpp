// Schedule planning for a net's approximate-dropout layers (see layer_plan.hpp).
#include "layers/approx_dropout/layer_plan.hpp"

#include "caffe/core/common.hpp"
#include "caffe/core/net.hpp"
#include "caffe/core/net_rewrite.hpp"
#include "layers/approx_dropout/dropout_schedule.hpp"
#include "layers/approx_dropout/inner_product_approx_dropout_layer.hpp"
#include "layers/approx_dropout/lstm_approx_dropout_layer.hpp"

namespace caffe {
namespace approx_dropout {
namespace {

constexpr const char* kInnerProductType = "InnerProductApproxDropout";
constexpr const char* kLstmType = "LSTMApproxDropout";

// The layer's settings, checked the way the schedule generator always has, in its words.
LayerPlan settings_of(const LayerParameter& layer) {
  LayerPlan plan{layer.name(), layer.type(), layer.approx_dropout_param(), std::nullopt, {}};
  ApproxDropoutParameter& param = plan.param;
  const std::string context = "layer '" + layer.name() + "' (" + layer.type() + ")";
  const bool lstm = layer.type() == kLstmType;
  if (lstm) {
    if (param.has_drop_side() && param.drop_side() == ApproxDropoutParameter::OUTPUT &&
        param.pattern() == ApproxDropoutParameter::ROW) {
      fail(context, " drops only its input connections: use drop_side: INPUT or pattern: TILE");
    }
    param.set_drop_side(ApproxDropoutParameter::INPUT);
  }
  const uint32_t outputs =
      lstm ? layer.recurrent_param().num_output() : layer.inner_product_param().num_output();
  if (outputs == 0) {
    fail(context, " has no ", lstm ? "recurrent_param" : "inner_product_param", ".num_output");
  }
  if (param.pattern() == ApproxDropoutParameter::TILE && param.tile_size() == 0) {
    fail(context, " has tile_size 0");
  }
  if (mask_kind(param) == MaskKind::OutputRows) plan.width = outputs;
  return plan;
}

template <typename ApproxLayer>
const MaskShape* mask_of(const Layer& layer) {
  const auto* approx = dynamic_cast<const ApproxLayer*>(&layer);
  return approx ? &approx->mask_shape() : nullptr;
}

// The mask shapes of the approximate layers of the TRAIN net built without schedules, in order.
std::vector<MaskShape> built_masks(const NetParameter& train_net) {
  const PlanningScope planning;
  const Net net(train_net);
  std::vector<MaskShape> masks;
  for (const auto& layer : net.layers()) {
    const MaskShape* mask = mask_of<InnerProductApproxDropoutLayer>(*layer);
    if (!mask) mask = mask_of<LSTMApproxDropoutLayer>(*layer);
    if (mask) masks.push_back(*mask);
  }
  return masks;
}

void set_measured(const MaskShape& mask, LayerPlan* plan) {
  plan->width = mask.width();
  if (mask.kind == MaskKind::Tiles) plan->tiles = TileGrid{mask.tile_rows(), mask.tile_cols()};
}

}  // namespace

NetPlan plan_layers(const NetParameter& net) {
  // The TRAIN phase at the net's own level and stages.
  const NetParameter train_net = with_state(net, TRAIN, net.state().level(), {});
  const NetParameter active = filter_net(train_net);
  NetPlan plan;
  for (const LayerParameter& layer : active.layer()) {
    if (layer.type() == kInnerProductType || layer.type() == kLstmType) {
      plan.layers.push_back(settings_of(layer));
    }
  }
  if (plan.layers.empty()) return plan;
  try {
    // The built net holds the planned layers, in the same order.
    const std::vector<MaskShape> masks = built_masks(train_net);
    for (size_t i = 0; i < masks.size(); ++i) set_measured(masks[i], &plan.layers.at(i));
  } catch (const Error& error) {
    plan.build_error = error.what();
  }
  return plan;
}

}  // namespace approx_dropout
}  // namespace caffe
