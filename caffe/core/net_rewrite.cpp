// Net rewrites: the NetParameter -> NetParameter transforms that turn a net as written into the
// net Net builds (state selection, include/exclude filtering, legacy inputs, Split insertion).
#include "caffe/core/net_rewrite.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "caffe/core/common.hpp"

namespace caffe {

NetParameter with_state(NetParameter param, Phase phase, int level,
                        const std::vector<std::string>& stages) {
  NetState* state = param.mutable_state();
  state->set_phase(phase);
  state->set_level(level);
  // Added to the stages the file's own `state` lists, as Caffe does.
  for (const std::string& stage : stages) state->add_stage(stage);
  return param;
}

bool state_meets_rule(const NetState& state, const NetStateRule& rule) {
  if (rule.has_phase() && rule.phase() != state.phase()) return false;
  if (rule.has_min_level() && state.level() < rule.min_level()) return false;
  if (rule.has_max_level() && state.level() > rule.max_level()) return false;
  const auto has_stage = [&](const std::string& stage) {
    return std::find(state.stage().begin(), state.stage().end(), stage) != state.stage().end();
  };
  for (const std::string& stage : rule.stage()) {
    if (!has_stage(stage)) return false;
  }
  for (const std::string& stage : rule.not_stage()) {
    if (has_stage(stage)) return false;
  }
  return true;
}

bool layer_in_state(const LayerParameter& layer, const NetState& state) {
  if (layer.include_size() > 0 && layer.exclude_size() > 0) {
    fail("layer '", layer.name(), "' has both include and exclude rules; use one kind");
  }
  bool active = layer.include_size() == 0;
  for (const NetStateRule& rule : layer.exclude()) {
    if (state_meets_rule(state, rule)) active = false;
  }
  for (const NetStateRule& rule : layer.include()) {
    if (state_meets_rule(state, rule)) active = true;
  }
  return active;
}

NetParameter filter_net(const NetParameter& param) {
  NetParameter filtered = param;
  filtered.clear_layer();
  for (const LayerParameter& layer : param.layer()) {
    if (layer_in_state(layer, param.state())) *filtered.add_layer() = layer;
  }
  return filtered;
}

NetParameter upgrade_net_inputs(const NetParameter& param) {
  if (param.input_size() == 0) return param;
  NetParameter upgraded = param;
  upgraded.clear_input();
  upgraded.clear_input_shape();
  upgraded.clear_input_dim();
  LayerParameter input_layer;
  input_layer.set_name("input");
  input_layer.set_type("Input");
  const bool by_dims = param.input_dim_size() > 0;
  if (by_dims && param.input_dim_size() != 4 * param.input_size()) {
    fail("net has ", param.input_size(), " input(s) but ", param.input_dim_size(),
         " input_dim values; give 4 per input");
  }
  if (!by_dims && param.input_shape_size() != param.input_size()) {
    fail("net has ", param.input_size(), " input(s) but ", param.input_shape_size(),
         " input_shape(s); give one per input");
  }
  for (int i = 0; i < param.input_size(); ++i) {
    input_layer.add_top(param.input(i));
    BlobShape* shape = input_layer.mutable_input_param()->add_shape();
    if (by_dims) {
      for (int d = 0; d < 4; ++d) shape->add_dim(param.input_dim(4 * i + d));
    } else {
      *shape = param.input_shape(i);
    }
  }
  upgraded.clear_layer();
  *upgraded.add_layer() = input_layer;
  for (const LayerParameter& layer : param.layer()) *upgraded.add_layer() = layer;
  return upgraded;
}

NetParameter insert_splits(const NetParameter& param) {
  // Producer of each blob version: (layer index, top index).  A blob name can be produced
  // several times (in-place layers); each production is a separate version.
  using Producer = std::pair<int, int>;
  std::map<std::string, Producer> current_producer;
  std::map<Producer, std::vector<std::pair<int, int>>> consumers;  // -> (layer, bottom)
  for (int l = 0; l < param.layer_size(); ++l) {
    const LayerParameter& layer = param.layer(l);
    for (int b = 0; b < layer.bottom_size(); ++b) {
      const auto found = current_producer.find(layer.bottom(b));
      if (found != current_producer.end()) consumers[found->second].push_back({l, b});
    }
    for (int t = 0; t < layer.top_size(); ++t) current_producer[layer.top(t)] = {l, t};
  }

  NetParameter result = param;
  result.clear_layer();
  std::map<std::pair<int, int>, std::string> renamed_bottom;  // (layer, bottom) -> split output
  std::vector<LayerParameter> layers(param.layer().begin(), param.layer().end());
  for (int l = 0; l < static_cast<int>(layers.size()); ++l) {
    LayerParameter layer = layers[l];
    for (int b = 0; b < layer.bottom_size(); ++b) {
      const auto renamed = renamed_bottom.find({l, b});
      if (renamed != renamed_bottom.end()) layer.set_bottom(b, renamed->second);
    }
    const int layer_position = result.layer_size();
    *result.add_layer() = layer;
    for (int t = 0; t < layer.top_size(); ++t) {
      const auto found = consumers.find({l, t});
      const int readers = found == consumers.end() ? 0 : static_cast<int>(found->second.size());
      // A top with an explicit loss weight that later layers also read gets a split output of its
      // own for the loss: the producer's gradient must be the loss weight plus what the readers
      // send back, but a loss top's diff is overwritten with its weight in Layer::Backward.
      const float loss_weight = t < layer.loss_weight_size() ? layer.loss_weight(t) : 0.0f;
      const int loss_outputs = loss_weight != 0.0f && readers > 0 ? 1 : 0;
      if (readers + loss_outputs < 2) continue;
      const std::string& blob = layer.top(t);
      LayerParameter split;
      split.set_name(blob + "_" + layer.name() + "_" + std::to_string(t) + "_split");
      split.set_type("Split");
      split.add_bottom(blob);
      for (int k = 0; k < readers + loss_outputs; ++k) {
        const std::string output = split.name() + "_" + std::to_string(k);
        split.add_top(output);
        if (loss_outputs) split.add_loss_weight(k == 0 ? loss_weight : 0.0f);
        if (k >= loss_outputs) renamed_bottom[found->second[k - loss_outputs]] = output;
      }
      if (loss_outputs) result.mutable_layer(layer_position)->set_loss_weight(t, 0.0f);
      *result.add_layer() = split;
    }
  }
  return result;
}

}  // namespace caffe
