#include "caffe/layers/flatten_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

std::vector<int> FlattenLayer::TopShape(const Blob& bottom) const {
  const FlattenParameter& param = layer_param_.flatten_param();
  const int first = bottom.CanonicalAxisIndex(param.axis());
  const int last = bottom.CanonicalAxisIndex(param.end_axis());
  if (last < first) {
    fail("flatten_param end_axis ", param.end_axis(), " (axis ", last, ") comes before axis ",
         param.axis(), " (axis ", first, ") for a bottom of shape ", bottom.shape_string());
  }
  std::vector<int> shape(bottom.shape().begin(), bottom.shape().begin() + first);
  shape.push_back(bottom.count(first, last + 1));
  shape.insert(shape.end(), bottom.shape().begin() + last + 1, bottom.shape().end());
  return shape;
}

REGISTER_LAYER("Flatten", FlattenLayer);

}  // namespace caffe
