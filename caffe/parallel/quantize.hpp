// The uniform per-blob quantizer of the weight codec (Øland & Raj): the weights' range, the
// sampled entropy estimate that picks the number of bits N, quantization with its histogram in
// one pass, and the bin centres that decoding returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace caffe {

struct ValueRange {
  float min = 0.0f;
  float max = 0.0f;
};

// The index of the first NaN or infinity in values[0, count), or count when all are finite.
size_t first_not_finite(const float* values, size_t count);
// caffe::Error naming blob `name` and the index of the first NaN or infinity, if any.
void check_finite(const float* values, size_t count, const std::string& name);

// The smallest and largest of values[0, count) (count > 0), checked as by check_finite.
ValueRange value_range(const float* values, size_t count, const std::string& name);

// q = min(floor(2^bits (w - w_min) / (w_max - w_min)), 2^bits - 1) for w in [w_min, w_max] and
// w_min < w_max, in double so that the bin of every float is exact up to the last bit of the
// division.
class Quantizer {
 public:
  Quantizer(ValueRange range, int bits);

  uint32_t bin(float value) const {
    const auto q = static_cast<uint32_t>((static_cast<double>(value) - low_) * scale_);
    return q < top_ ? q : top_;
  }
  // bins[i] = bin(values[i]) and histogram[q] += the number of weights in bin q (2^bits entries,
  // zeroed by the caller), in one pass over the weights.
  void quantize(const float* values, size_t count, uint16_t* bins, uint64_t* histogram) const;

 private:
  double low_;
  double scale_;  // 2^bits / (w_max - w_min)
  uint32_t top_;  // 2^bits - 1
};

// The value decoding gives bin q: w_min + (q + 0.5) (w_max - w_min) / 2^bits, for every q.
std::vector<float> bin_centres(ValueRange range, int bits);

// Entropy in bits of the distribution that `histogram` counts (0 for an empty one).
double histogram_entropy(const std::vector<uint64_t>& histogram);

// The paper's estimate H: the entropy of `sample_bits`-bit quantization of a random fraction
// `fraction` of the weights (at least one), drawn with replacement from the stream `seed`.
double estimate_entropy(const float* values, size_t count, ValueRange range, int sample_bits,
                        double fraction, uint64_t seed);

// N = clamp(round(H) + c, 1, ceiling).
int dynamic_bits(double entropy, int c, int ceiling);

}  // namespace caffe
