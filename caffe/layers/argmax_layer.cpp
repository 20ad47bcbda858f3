#include "caffe/layers/argmax_layer.hpp"

#include <algorithm>
#include <cmath>

#include "caffe/core/layer_registry.hpp"

namespace caffe {
namespace {

// Strict weak order for the ranking: NaN first (so NaN input never breaks the sort), then larger
// values, then lower indices.
bool ranks_before(const std::pair<float, int>& a, const std::pair<float, int>& b) {
  const bool a_nan = std::isnan(a.first), b_nan = std::isnan(b.first);
  if (a_nan != b_nan) return a_nan;
  if (!a_nan && a.first != b.first) return a.first > b.first;
  return a.second < b.second;
}

}  // namespace

void ArgMaxLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const ArgMaxParameter& param = layer_param_.argmax_param();
  has_axis_ = param.has_axis();
  out_max_val_ = param.out_max_val();
  if (param.top_k() < 1) fail("top_k must be at least 1, got ", param.top_k());
  top_k_ = static_cast<int>(std::min<uint32_t>(param.top_k(), 1u << 30));
}

void ArgMaxLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& input = *bottom[0];
  std::vector<int> top_shape;
  if (has_axis_) {
    split_ = split_at_axis(input, layer_param_.argmax_param().axis());
    top_shape = input.shape();
    top_shape[input.CanonicalAxisIndex(layer_param_.argmax_param().axis())] = top_k_;
  } else {
    if (input.num_axes() < 1) fail("needs an input with a first (example) axis; got a scalar");
    split_ = AxisSplit{input.shape(0), input.count(1), 1};
    top_shape.assign(std::max(3, input.num_axes()), 1);
    top_shape[0] = input.shape(0);
    top_shape[1] = out_max_val_ ? 2 : 1;
    top_shape[2] = top_k_;
  }
  if (top_k_ > split_.axis_dim) {
    fail("top_k ", top_k_, " exceeds the ", split_.axis_dim, " values it ranks (",
         has_axis_ ? "along the axis" : "per example", ", input shape ", input.shape_string(), ")");
  }
  top[0]->Reshape(top_shape);
}

void ArgMaxLayer::RankVector(const float* values, int position) {
  ranked_.resize(split_.axis_dim);
  for (int c = 0; c < split_.axis_dim; ++c) {
    ranked_[c] = {values[split_.offset_at(position, c)], c};
  }
  std::partial_sort(ranked_.begin(), ranked_.begin() + top_k_, ranked_.end(), ranks_before);
}

void ArgMaxLayer::WriteRank(int position, int j, float* out) const {
  const auto& [value, index] = ranked_[j];
  if (has_axis_) {
    const AxisSplit top_split{split_.outer, top_k_, split_.inner};
    out[top_split.offset_at(position, j)] = out_max_val_ ? value : static_cast<float>(index);
  } else if (out_max_val_) {  // rows: indices, then values
    out[(2LL * position) * top_k_ + j] = static_cast<float>(index);
    out[(2LL * position + 1) * top_k_ + j] = value;
  } else {
    out[static_cast<long long>(position) * top_k_ + j] = static_cast<float>(index);
  }
}

void ArgMaxLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  const float* values = bottom[0]->cpu_data();
  float* out = top[0]->mutable_cpu_data();
  for (int position = 0; position < split_.positions(); ++position) {
    RankVector(values, position);
    for (int j = 0; j < top_k_; ++j) WriteRank(position, j, out);
  }
}

void ArgMaxLayer::Backward_cpu(const BlobVec& /*top*/, const std::vector<bool>& propagate_down,
                               const BlobVec& /*bottom*/) {
  if (propagate_down[0]) {
    fail(
        "has no gradient (its output is piecewise constant in the input); no loss may depend "
        "on it through backpropagation");
  }
}

REGISTER_LAYER("ArgMax", ArgMaxLayer);

}  // namespace caffe
