#include "caffe/layers/crop_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

namespace {

// The block of `x` of shape `top_shape` starting at `offsets`.
CropIndexing crop_block(const Blob& x, const std::vector<int>& top_shape,
                        const std::vector<long long>& offsets) {
  CropIndexing block;
  block.axes = x.num_axes();
  long long stride = 1;
  for (int d = block.axes - 1; d >= 0; --d) {
    block.top_shape[d] = top_shape[d];
    block.bottom_strides[d] = stride;
    block.start += offsets[d] * stride;
    stride *= x.shape(d);
  }
  return block;
}

}  // namespace

std::vector<long long> CropLayer::Offsets(const Blob& x, const Blob& reference, int axis) const {
  const CropParameter& param = layer_param_.crop_param();
  const int cropped = x.num_axes() - axis;
  if (param.offset_size() > 1 && param.offset_size() != cropped) {
    fail("crop_param has ", param.offset_size(), " offsets, but axes ", axis, " to ",
         x.num_axes() - 1, " (", cropped, " axes) are cropped; give none, one, or one per axis");
  }
  std::vector<long long> offsets(x.num_axes(), 0);
  for (int d = axis; d < x.num_axes(); ++d) {
    if (param.offset_size() > 0) offsets[d] = param.offset(param.offset_size() == 1 ? 0 : d - axis);
    if (offsets[d] + reference.shape(d) > x.shape(d)) {
      fail("cropping ", reference.shape(d), " values from offset ", offsets[d], " on axis ", d,
           " runs past bottom 0's size ", x.shape(d), " (bottom 0 has shape ", x.shape_string(),
           ", bottom 1 has shape ", reference.shape_string(), ")");
    }
  }
  return offsets;
}

void CropLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& x = *bottom[0];
  const Blob& reference = *bottom[1];
  if (x.num_axes() != reference.num_axes()) {
    fail("bottom 0 of shape ", x.shape_string(), " and bottom 1 of shape ",
         reference.shape_string(), " must have the same number of axes");
  }
  if (x.num_axes() > CropIndexing::kMaxAxes) {
    fail("crops blobs of up to ", CropIndexing::kMaxAxes, " axes, got shape ", x.shape_string());
  }
  if (top[0] == bottom[0] || top[0] == bottom[1]) {
    fail("cannot run in place; give the top its own name");
  }
  const int axis = x.CanonicalAxisIndex(layer_param_.crop_param().axis());
  const std::vector<long long> offsets = Offsets(x, reference, axis);
  std::vector<int> shape = x.shape();
  for (int d = axis; d < x.num_axes(); ++d) shape[d] = reference.shape(d);
  top[0]->Reshape(shape);
  block_ = crop_block(x, shape, offsets);
}

void CropLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  for_each(mode, top[0]->count(),
           CropGather{block_, bottom[0]->data_on(mode), top[0]->mutable_data_on(mode)});
}

void CropLayer::BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                           const BlobVec& bottom) {
  if (propagate_down[1]) blas(mode).set(bottom[1]->count(), 0.0f, bottom[1]->mutable_diff_on(mode));
  if (!propagate_down[0]) return;
  float* dx = bottom[0]->mutable_diff_on(mode);
  blas(mode).set(bottom[0]->count(), 0.0f, dx);
  for_each(mode, top[0]->count(), CropScatter{block_, top[0]->diff_on(mode), dx});
}

void CropLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::CPU, bottom, top);
}

void CropLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(Mode::CPU, top, propagate_down, bottom);
}

REGISTER_LAYER("Crop", CropLayer);

}  // namespace caffe
