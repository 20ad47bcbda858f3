#include "caffe/layers/axis_broadcast.hpp"

#include <algorithm>

#include "caffe/core/filler.hpp"

namespace caffe {

std::vector<int> learned_operand_shape(const Blob& x, int axis, int num_axes) {
  if (num_axes < -1) fail("num_axes must be -1 (all axes from axis on) or more, got ", num_axes);
  const int first = x.CanonicalAxisIndex(axis);
  const int end = num_axes == -1 ? x.num_axes() : first + num_axes;
  if (end > x.num_axes()) {
    fail("axis ", axis, " with num_axes ", num_axes, " needs ", end,
         " axes, but bottom 0 has shape ", x.shape_string());
  }
  return std::vector<int>(x.shape().begin() + first, x.shape().begin() + end);
}

AxisSplit broadcast_split(const Blob& x, int axis, const std::vector<int>& operand,
                          const std::string& operand_name) {
  if (operand.empty()) return AxisSplit{1, 1, x.count()};
  const int first = x.CanonicalAxisIndex(axis);
  const int end = first + static_cast<int>(operand.size());
  const bool fits =
      end <= x.num_axes() && std::equal(operand.begin(), operand.end(), x.shape().begin() + first);
  if (!fits) {
    fail(operand_name, " of shape ", shape_string(operand), " does not match bottom 0 of shape ",
         x.shape_string(), " from axis ", first, " on");
  }
  return AxisSplit{x.count(0, first), x.count(first, end), x.count(end)};
}

bool operand_is_bottom(const BlobVec& bottom, const BlobVec& top, const char* operand_name) {
  if (bottom.size() < 2) return false;
  if (top[0] == bottom[1]) {
    fail("cannot write its top over bottom 1 (the ", operand_name, "); give the top its own name");
  }
  return true;
}

OperandGradient operand_gradient(Mode mode, bool is_bottom, bool wanted, Blob* operand) {
  if (!wanted) return {};
  return {operand->mutable_diff_on(mode), is_bottom ? 0.0f : 1.0f};
}

FillerParameter filler_or_constant(bool has_given, const FillerParameter& given, float value) {
  if (has_given) return given;
  FillerParameter constant;
  constant.set_type("constant");
  constant.set_value(value);
  return constant;
}

void init_operand_blobs(const std::string& layer_name, const std::vector<OperandSpec>& specs,
                        std::vector<std::shared_ptr<Blob>>* blobs) {
  if (blobs->empty()) {
    for (const OperandSpec& spec : specs) {
      blobs->push_back(std::make_shared<Blob>(spec.shape));
      fill_blob(spec.filler, blobs->back().get(),
                filler_stream(layer_name, static_cast<int>(blobs->size()) - 1));
    }
    return;
  }
  if (blobs->size() != specs.size()) {
    std::string names;
    for (const OperandSpec& spec : specs) {
      names += std::string(names.empty() ? "" : ", ") + spec.name;
    }
    fail("the model gives ", blobs->size(), " parameter blob(s), but the layer has ", specs.size(),
         names.empty() ? "" : " (" + names + ")");
  }
  for (size_t j = 0; j < specs.size(); ++j) {
    if ((*blobs)[j]->shape() != specs[j].shape) {
      fail("the ", specs[j].name, " blob from the model has shape ", (*blobs)[j]->shape_string(),
           ", but bottom 0 needs ", shape_string(specs[j].shape));
    }
  }
}

}  // namespace caffe
