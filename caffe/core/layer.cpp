#include "caffe/core/layer.hpp"

#include "caffe/util/math_functions.hpp"

namespace caffe {

namespace {

// A shape with its leading 1s removed: legacy models store [N, K] weights as [1, 1, N, K].
std::vector<int> without_leading_ones(std::vector<int> shape) {
  while (shape.size() > 1 && shape.front() == 1) shape.erase(shape.begin());
  return shape;
}

}  // namespace

void check_loaded_param_shape(Blob* blob, const std::vector<int>& expected, const std::string& what,
                              const std::string& why) {
  if (blob->shape() == expected) return;
  if (without_leading_ones(blob->shape()) == without_leading_ones(expected)) {
    blob->Reshape(expected);  // same count: the values stay in place
    return;
  }
  fail("the ", what, " from the model has shape ", blob->shape_string(), ", but ", why, " need ",
       shape_string(expected));
}

Layer::Layer(const LayerParameter& param)
    : layer_param_(param), phase_(param.phase()) {
  for (const BlobProto& proto : layer_param_.blobs()) {
    auto blob = std::make_shared<Blob>();
    blob->FromProto(proto);
    blobs_.push_back(blob);
  }
}

std::string Layer::context() const {
  return "layer '" + name() + "' (" + type() + "): ";
}

void Layer::CheckBlobCounts(const BlobVec& bottom, const BlobVec& top) const {
  const auto check = [&](int actual, int exact, int min, int max, const char* what) {
    if (exact >= 0 && actual != exact) fail("needs exactly ", exact, " ", what, ", got ", actual);
    if (min >= 0 && actual < min) fail("needs at least ", min, " ", what, ", got ", actual);
    if (max >= 0 && actual > max) fail("takes at most ", max, " ", what, ", got ", actual);
  };
  check(static_cast<int>(bottom.size()), ExactNumBottomBlobs(), MinBottomBlobs(), MaxBottomBlobs(),
        "bottom blob(s)");
  check(static_cast<int>(top.size()), ExactNumTopBlobs(), MinTopBlobs(), MaxTopBlobs(),
        "top blob(s)");
  if (EqualNumBottomTopBlobs() && bottom.size() != top.size()) {
    fail("needs as many tops as bottoms, got ", bottom.size(), " bottom(s) and ", top.size(),
         " top(s)");
  }
}

void Layer::SetUp(const BlobVec& bottom, const BlobVec& top) {
  with_layer_context(*this, [&] {
    CheckBlobCounts(bottom, top);
    LayerSetUp(bottom, top);
    Reshape(bottom, top);
    loss_weights_.assign(top.size(), 0.0f);
    if (layer_param_.loss_weight_size() > 0) {
      if (layer_param_.loss_weight_size() != static_cast<int>(top.size())) {
        fail("has ", layer_param_.loss_weight_size(), " loss_weight value(s) for ", top.size(),
             " top(s); give one per top");
      }
      for (size_t i = 0; i < top.size(); ++i) loss_weights_[i] = layer_param_.loss_weight(i);
    } else if (IsLoss() && !top.empty()) {
      loss_weights_[0] = 1.0f;
    }
    if (param_propagate_down_.size() < blobs_.size()) param_propagate_down_.resize(blobs_.size(), true);
  });
}

void Layer::set_param_propagate_down(int index, bool value) {
  if (index >= static_cast<int>(param_propagate_down_.size())) {
    param_propagate_down_.resize(index + 1, true);
  }
  param_propagate_down_[index] = value;
}

float Layer::Forward(const BlobVec& bottom, const BlobVec& top) {
  return with_layer_context(*this, [&] {
    Reshape(bottom, top);
    if (mode() == Mode::GPU) {
      Forward_gpu(bottom, top);
    } else {
      Forward_cpu(bottom, top);
    }
    PropagateColumnPattern(bottom, top);
    float loss = 0;
    for (size_t i = 0; i < top.size(); ++i) {
      if (loss_weights_[i] == 0.0f) continue;
      // Loss tops are tiny (usually scalars): sum them on the host.
      const float* values = top[i]->cpu_data();
      float sum = 0;
      for (int j = 0; j < top[i]->count(); ++j) sum += values[j];
      loss += loss_weights_[i] * sum;
    }
    return loss;
  });
}

void Layer::PropagateColumnPattern(const BlobVec& bottom, const BlobVec& top) {
  for (size_t i = 0; i < top.size(); ++i) {
    const bool carried = PreservesZeros() && i < bottom.size();
    top[i]->set_column_pattern(carried ? bottom[i]->column_pattern() : ColumnPattern{});
  }
}

void Layer::Backward(const BlobVec& top, const std::vector<bool>& propagate_down,
                     const BlobVec& bottom) {
  with_layer_context(*this, [&] {
    // A loss top's gradient is its loss weight: d(weight * sum(top)) / d(top).
    for (size_t i = 0; i < top.size(); ++i) {
      if (loss_weights_[i] == 0.0f) continue;
      cpu_set(top[i]->count(), loss_weights_[i], top[i]->mutable_cpu_diff());
    }
    if (mode() == Mode::GPU) {
      Backward_gpu(top, propagate_down, bottom);
    } else {
      Backward_cpu(top, propagate_down, bottom);
    }
  });
}

}  // namespace caffe
