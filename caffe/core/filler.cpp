#include "caffe/core/filler.hpp"

#include <cmath>
#include <random>

#include "caffe/core/common.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

// Fan-in / fan-out of a weight blob [num_output, inputs, ...]: count / shape(0) and
// count / shape(1), as the variance-scaling fillers define them.
float variance_scale(const FillerParameter& param, const Blob& blob) {
  const float count = static_cast<float>(blob.count());
  const float fan_in = blob.num_axes() > 0 && blob.shape(0) > 0 ? count / blob.shape(0) : count;
  const float fan_out = blob.num_axes() > 1 && blob.shape(1) > 0 ? count / blob.shape(1) : count;
  switch (param.variance_norm()) {
    case FillerParameter::FAN_OUT:
      return fan_out;
    case FillerParameter::AVERAGE:
      return (fan_in + fan_out) / 2.0f;
    default:
      return fan_in;
  }
}

}  // namespace

uint64_t filler_stream(const std::string& layer_name, int blob_index) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a: stable across platforms, unlike std::hash
  for (unsigned char c : layer_name) hash = (hash ^ c) * 1099511628211ull;
  return hash_combine(hash, static_cast<uint64_t>(blob_index));
}

void fill_blob(const FillerParameter& param, Blob* blob, uint64_t stream) {
  std::mt19937_64 engine(hash_combine(random_seed(), stream));
  float* data = blob->mutable_cpu_data();
  const int count = blob->count();
  const std::string& type = param.type();
  if (type == "constant") {
    for (int i = 0; i < count; ++i) data[i] = param.value();
  } else if (type == "uniform") {
    // The standard distributions have undefined behaviour on these, so check them first.
    if (param.min() > param.max()) {
      fail("uniform filler needs min <= max, got min ", param.min(), " and max ", param.max());
    }
    std::uniform_real_distribution<float> dist(param.min(), param.max());
    for (int i = 0; i < count; ++i) data[i] = dist(engine);
  } else if (type == "gaussian") {
    if (param.std() <= 0) fail("gaussian filler needs std > 0, got ", param.std());
    if (param.sparse() < -1) fail("gaussian filler needs sparse >= -1, got ", param.sparse());
    std::normal_distribution<float> dist(param.mean(), param.std());
    for (int i = 0; i < count; ++i) data[i] = dist(engine);
  } else if (type == "xavier") {
    const float bound = std::sqrt(3.0f / variance_scale(param, *blob));
    std::uniform_real_distribution<float> dist(-bound, bound);
    for (int i = 0; i < count; ++i) data[i] = dist(engine);
  } else if (type == "msra") {
    std::normal_distribution<float> dist(0.0f, std::sqrt(2.0f / variance_scale(param, *blob)));
    for (int i = 0; i < count; ++i) data[i] = dist(engine);
  } else if (type == "positive_unitball") {
    // Each row (one output's weights) is positive and sums to one.
    std::uniform_real_distribution<float> dist(0.0f, 1.0f);
    const int rows = blob->num_axes() > 0 ? blob->shape(0) : 1;
    const int row_size = rows > 0 ? count / rows : 0;
    for (int r = 0; r < rows; ++r) {
      float sum = 0;
      for (int i = 0; i < row_size; ++i) sum += data[r * row_size + i] = dist(engine);
      for (int i = 0; i < row_size; ++i) data[r * row_size + i] /= sum;
    }
  } else {
    fail("unknown filler type '", type,
         "'. Known types: constant, uniform, gaussian, xavier, msra, positive_unitball");
  }
  if (param.sparse() >= 0 && type == "gaussian") {
    // `sparse` is the expected number of non-zero weights per input (Caffe's definition): each
    // weight of a [num_output, ...] blob is kept with probability sparse / num_output.
    const int outputs = blob->num_axes() > 0 ? blob->shape(0) : 1;
    const float keep =
        outputs > 0 ? std::min(1.0f, static_cast<float>(param.sparse()) / outputs) : 0.0f;
    std::bernoulli_distribution keep_dist(keep);
    for (int i = 0; i < count; ++i) {
      if (!keep_dist(engine)) data[i] = 0;
    }
  }
}

}  // namespace caffe
