#include "caffe/util/permutation.hpp"

#include <numeric>
#include <utility>

#include "caffe/util/random.hpp"

namespace caffe {

std::vector<uint64_t> identity_order(uint64_t n) {
  std::vector<uint64_t> order(n);
  std::iota(order.begin(), order.end(), uint64_t{0});
  return order;
}

std::vector<uint64_t> random_permutation(uint64_t n, uint64_t key) {
  std::vector<uint64_t> order = identity_order(n);
  for (uint64_t i = n; i > 1; --i) {
    // Multiply-shift maps 64 random bits onto [0, i) without a modulo's bias.
    const uint64_t j =
        static_cast<uint64_t>((static_cast<unsigned __int128>(hash_combine(key, i)) * i) >> 64);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace caffe
