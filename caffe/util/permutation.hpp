// Random permutations drawn from the counter-based stream (caffe/util/random.hpp): a pure
// function of (n, key), so a shuffled epoch is the same in every run and after a resume.
#pragma once

#include <cstdint>
#include <vector>

namespace caffe {

// 0, 1, ..., n-1.
std::vector<uint64_t> identity_order(uint64_t n);
// A permutation of 0..n-1 (Fisher-Yates over the stream `key`).
std::vector<uint64_t> random_permutation(uint64_t n, uint64_t key);

}  // namespace caffe
