#include "caffe/layers/reshape_layer.hpp"

#include <cstdint>

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void BlobViewLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  if (top[0] == bottom[0]) fail("cannot run in place; give the top its own name");
  top[0]->Reshape(TopShape(*bottom[0]));
  top[0]->ShareData(*bottom[0]);
  top[0]->ShareDiff(*bottom[0]);
}

void ReshapeLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  const ReshapeParameter& param = layer_param_.reshape_param();
  int inferred = 0;
  for (int64_t dim : param.shape().dim()) {
    if (dim < -1 || dim > INT32_MAX) {
      fail("reshape_param.shape has dimension ", dim,
           "; use a positive size, 0 to copy the bottom's, or -1 to infer one");
    }
    if (dim == -1 && ++inferred > 1) {
      fail("reshape_param.shape may infer (-1) at most one dimension");
    }
  }
  if (param.num_axes() < -1) {
    fail("reshape_param.num_axes must be -1 (all remaining axes) or >= 0, got ", param.num_axes());
  }
}

void ReshapeLayer::ReplacedRange(const Blob& bottom, int* first, int* end) const {
  const ReshapeParameter& param = layer_param_.reshape_param();
  const int axes = bottom.num_axes();
  *first = param.axis() < 0 ? axes + 1 + param.axis() : param.axis();
  if (*first < 0 || *first > axes) {
    fail("reshape_param.axis ", param.axis(), " is out of range for a bottom of shape ",
         bottom.shape_string());
  }
  *end = param.num_axes() == -1 ? axes : *first + param.num_axes();
  if (*end > axes) {
    fail("reshape_param axis ", param.axis(), " with num_axes ", param.num_axes(),
         " reaches past the last axis of a bottom of shape ", bottom.shape_string());
  }
}

std::vector<int> ReshapeLayer::TopShape(const Blob& bottom) const {
  const BlobShape& spec = layer_param_.reshape_param().shape();
  int first = 0;
  int end = 0;
  ReplacedRange(bottom, &first, &end);

  std::vector<int> shape(bottom.shape().begin(), bottom.shape().begin() + first);
  int inferred_axis = -1;
  for (int i = 0; i < spec.dim_size(); ++i) {
    int dim = static_cast<int>(spec.dim(i));
    if (dim == 0) {
      if (first + i >= bottom.num_axes()) {
        fail("reshape_param.shape dimension ", i, " is 0 (copy), but a bottom of shape ",
             bottom.shape_string(), " has no axis ", first + i);
      }
      dim = bottom.shape(first + i);
    } else if (dim == -1) {
      inferred_axis = static_cast<int>(shape.size());
      dim = 1;  // placeholder, set below
    }
    shape.push_back(dim);
  }
  shape.insert(shape.end(), bottom.shape().begin() + end, bottom.shape().end());

  long long known = 1;
  for (int dim : shape) known *= dim;
  if (inferred_axis >= 0) {
    if (known == 0 || bottom.count() % known != 0) {
      fail("cannot infer the -1 dimension of reshape_param.shape: a bottom of shape ",
           bottom.shape_string(), " has ", bottom.count(), " elements, not a multiple of ", known);
    }
    shape[inferred_axis] = static_cast<int>(bottom.count() / known);
  } else if (known != bottom.count()) {
    fail("cannot reshape a bottom of shape ", bottom.shape_string(), " into ",
         shape_string(shape), ": the element counts differ");
  }
  return shape;
}

REGISTER_LAYER("Reshape", ReshapeLayer);

}  // namespace caffe
