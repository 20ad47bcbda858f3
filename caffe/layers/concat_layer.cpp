#include "caffe/layers/concat_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void ConcatLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const ConcatParameter& param = layer_param_.concat_param();
  axis_ = axis_or_legacy_dim(*bottom[0], param.has_axis(), param.axis(), param.has_concat_dim(),
                             param.concat_dim(), "concat_dim");
  std::vector<int> shape = bottom[0]->shape();
  for (size_t b = 1; b < bottom.size(); ++b) {
    const std::vector<int>& other = bottom[b]->shape();
    bool agrees = other.size() == shape.size();
    for (size_t d = 0; agrees && d < shape.size(); ++d) {
      agrees = static_cast<int>(d) == axis_ || other[d] == shape[d];
    }
    if (!agrees) {
      fail("bottom ", b, " has shape ", bottom[b]->shape_string(), " but bottom 0 has shape ",
           bottom[0]->shape_string(), "; all bottoms must agree on every axis except the concat axis ",
           axis_);
    }
    shape[axis_] += other[axis_];
  }
  top[0]->Reshape(shape);
  split_ = split_at_axis(*top[0], axis_);
}

void ConcatLayer::AssembleData(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  float* joint = top[0]->mutable_data_on(mode);
  int offset = 0;
  for (Blob* piece : bottom) {
    const int length = piece->shape(axis_);
    copy_piece_in(mode, split_, offset, length, piece->data_on(mode), joint);
    offset += length;
  }
}

void ConcatLayer::SplitDiff(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                            const BlobVec& bottom) {
  const float* joint = top[0]->diff_on(mode);
  int offset = 0;
  for (size_t b = 0; b < bottom.size(); ++b) {
    const int length = bottom[b]->shape(axis_);
    if (propagate_down[b]) {
      copy_piece_out(mode, split_, offset, length, joint, bottom[b]->mutable_diff_on(mode));
    }
    offset += length;
  }
}

REGISTER_LAYER("Concat", ConcatLayer);

}  // namespace caffe
