// Net rewrites: the NetParameter -> NetParameter transforms a Net applies to the net as written
// before it builds any layer.  Net's constructor runs them in this order: with_state (prototxt
// constructor only), upgrade_net (net_upgrade.hpp, which calls upgrade_net_inputs), filter_net,
// insert_splits.  They are free functions so
// that tests, tools and the Python bindings can run the same rules without building a Net.
#pragma once

#include <string>
#include <vector>

#include "proto/caffe.pb.h"

namespace caffe {

// `param` with its state's phase and level replaced by these and `stages` added to the stages
// its own `state` lists (as Caffe does for a net read from a file).
NetParameter with_state(NetParameter param, Phase phase, int level,
                        const std::vector<std::string>& stages);

// True when the NetState satisfies the rule.
bool state_meets_rule(const NetState& state, const NetStateRule& rule);
// Whether `layer` belongs to a net built in `state`: with include rules, when one of them is
// met; otherwise when none of its exclude rules is.  A layer with both kinds is an error.
bool layer_in_state(const LayerParameter& layer, const NetState& state);
// The layers of `param` that are active in param.state(), in order.
NetParameter filter_net(const NetParameter& param);

// Turns the legacy net-level `input` / `input_shape` / `input_dim` fields into an Input layer.
NetParameter upgrade_net_inputs(const NetParameter& param);

// Rewrites a filtered net so that every blob consumed by more than one layer goes through a
// Split layer, one output per consumer.  A top with an explicit loss weight that is also
// consumed is split too: the Split's first output carries the loss weight instead.
NetParameter insert_splits(const NetParameter& param);

}  // namespace caffe
