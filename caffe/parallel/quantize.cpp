// The weight codec's uniform quantizer: range scan, sampled entropy, quantize + histogram, bin
// centres.
#include "caffe/parallel/quantize.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "caffe/core/common.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

bool is_finite_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return (bits & 0x7f800000u) != 0x7f800000u;  // exponent all ones: infinity or NaN
}

}  // namespace

size_t first_not_finite(const float* values, size_t count) {
  return static_cast<size_t>(
      std::find_if(values, values + count, [](float v) { return !is_finite_bits(v); }) - values);
}

void check_finite(const float* values, size_t count, const std::string& name) {
  const size_t index = first_not_finite(values, count);
  if (index < count) {
    fail("codec: blob '", name, "' holds ", values[index], " at index ", index,
         "; only finite weights can be encoded");
  }
}

ValueRange value_range(const float* values, size_t count, const std::string& name) {
  CHECK_GT(count, 0u);
  float low = values[0], high = values[0];
  // One pass, no early exit: the finiteness flag is a branch-free or over the exponent bits.
  uint32_t not_finite = 0;
  for (size_t i = 0; i < count; ++i) {
    const float value = values[i];
    low = value < low ? value : low;
    high = value > high ? value : high;
    not_finite |= static_cast<uint32_t>(!is_finite_bits(value));
  }
  if (not_finite) check_finite(values, count, name);
  return {low, high};
}

Quantizer::Quantizer(ValueRange range, int bits)
    : low_(range.min),
      scale_(std::ldexp(1.0, bits) / (static_cast<double>(range.max) - range.min)),
      top_((uint32_t{1} << bits) - 1) {
  CHECK(bits >= 1 && bits <= 16 && range.min < range.max) << bits << " bits";
}

void Quantizer::quantize(const float* values, size_t count, uint16_t* bins,
                         uint64_t* histogram) const {
  for (size_t i = 0; i < count; ++i) {
    const uint32_t q = bin(values[i]);
    bins[i] = static_cast<uint16_t>(q);
    ++histogram[q];
  }
}

std::vector<float> bin_centres(ValueRange range, int bits) {
  const size_t bins = size_t{1} << bits;
  const double width = (static_cast<double>(range.max) - range.min) / static_cast<double>(bins);
  std::vector<float> centres(bins);
  for (size_t q = 0; q < bins; ++q) {
    centres[q] = static_cast<float>(range.min + (static_cast<double>(q) + 0.5) * width);
  }
  return centres;
}

double histogram_entropy(const std::vector<uint64_t>& histogram) {
  uint64_t total = 0;
  for (uint64_t n : histogram) total += n;
  double entropy = 0.0;
  for (uint64_t n : histogram) {
    if (n == 0) continue;
    const double p = static_cast<double>(n) / static_cast<double>(total);
    entropy -= p * std::log2(p);
  }
  return entropy;
}

double estimate_entropy(const float* values, size_t count, ValueRange range, int sample_bits,
                        double fraction, uint64_t seed) {
  if (range.min == range.max) return 0.0;
  const Quantizer quantizer(range, sample_bits);
  std::vector<uint64_t> histogram(size_t{1} << sample_bits, 0);
  const auto samples =
      static_cast<size_t>(std::max(1.0, std::ceil(fraction * static_cast<double>(count))));
  for (size_t j = 0; j < samples; ++j) {
    ++histogram[quantizer.bin(values[hash_combine(seed, j) % count])];
  }
  return histogram_entropy(histogram);
}

int dynamic_bits(double entropy, int c, int ceiling) {
  const long bits = std::lround(entropy) + c;
  return static_cast<int>(std::clamp<long>(bits, 1, ceiling));
}

}  // namespace caffe
