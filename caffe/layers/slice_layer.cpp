#include "caffe/layers/slice_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {
namespace {

// Piece lengths along an axis of size `dim` for `pieces` tops.
std::vector<int> piece_lengths(const SliceParameter& param, int dim, int pieces) {
  if (param.slice_point_size() == 0) {
    if (dim % pieces != 0) {
      fail("cannot cut an axis of size ", dim, " into ", pieces,
           " equal parts; give slice_point values");
    }
    return std::vector<int>(pieces, dim / pieces);
  }
  if (param.slice_point_size() != pieces - 1) {
    fail("has ", param.slice_point_size(), " slice_point value(s) for ", pieces,
         " tops; give one fewer slice_point than tops");
  }
  std::vector<int> lengths;
  int previous = 0;
  for (int k = 0; k < param.slice_point_size(); ++k) {
    const long long point = param.slice_point(k);
    if (point <= previous || point >= dim) {
      fail("slice_point #", k, " = ", point, " must lie strictly between the previous point (",
           previous, ") and the axis size (", dim, ")");
    }
    lengths.push_back(static_cast<int>(point) - previous);
    previous = static_cast<int>(point);
  }
  lengths.push_back(dim - previous);
  return lengths;
}

}  // namespace

void SliceLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const SliceParameter& param = layer_param_.slice_param();
  const int axis = axis_or_legacy_dim(*bottom[0], param.has_axis(), param.axis(),
                                      param.has_slice_dim(), param.slice_dim(), "slice_dim");
  split_ = split_at_axis(*bottom[0], axis);
  lengths_ = piece_lengths(param, split_.axis_dim, static_cast<int>(top.size()));
  std::vector<int> shape = bottom[0]->shape();
  for (size_t t = 0; t < top.size(); ++t) {
    shape[axis] = lengths_[t];
    top[t]->Reshape(shape);
  }
}

void SliceLayer::SplitData(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const float* joint = bottom[0]->data_on(mode);
  int offset = 0;
  for (size_t t = 0; t < top.size(); ++t) {
    copy_piece_out(mode, split_, offset, lengths_[t], joint, top[t]->mutable_data_on(mode));
    offset += lengths_[t];
  }
}

void SliceLayer::AssembleDiff(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  float* joint = bottom[0]->mutable_diff_on(mode);
  int offset = 0;
  for (size_t t = 0; t < top.size(); ++t) {
    copy_piece_in(mode, split_, offset, lengths_[t], top[t]->diff_on(mode), joint);
    offset += lengths_[t];
  }
}

REGISTER_LAYER("Slice", SliceLayer);

}  // namespace caffe
