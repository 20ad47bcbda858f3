// One exchange of the data-parallel trainer: every rank encodes its float arrays (weights, or
// gradients) with the codec, the ranks allgather the packages, and every rank decodes all of
// them and replaces each array by the mean over the ranks of the decoded values.  Every rank
// averages the same decoded packages (its own included) in rank order, so all ranks end with
// bit-identical arrays whatever the codec.
//
// A rank's message is its packages in array order, framed as
//   u32 array count, u64 package size per array, the packages one after another.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caffe/parallel/codec.hpp"
#include "caffe/parallel/mpi_context.hpp"

namespace caffe {

// An array the ranks average: a learnable blob's data or diff.
struct ExchangedArray {
  std::string name;  // for errors ("ip1[0]")
  float* values = nullptr;
  std::vector<int> shape;
  size_t count = 0;
};

// What one or more exchanges cost this rank.
struct ExchangeStats {
  int exchanges = 0;
  uint64_t params = 0;        // values sent
  uint64_t bytes_sent = 0;    // message bytes (packages and framing)
  double quantized_bits = 0;  // sum over arrays of bits per value x count (32 for none)
  double payload_bits = 0;    // sum of the packages' payload bits (after Huffman)
  double encode_ms = 0;
  double decode_ms = 0;  // decoding and averaging
  double communication_ms = 0;
  double wait_ms = 0;  // the part of communication_ms spent waiting for every rank to arrive
  // The CPU time of encode_ms and decode_ms (the codec runs on the calling thread): their wall
  // time on a host whose cores the rank does not share.
  double encode_cpu_ms = 0;
  double decode_cpu_ms = 0;

  void Add(const ExchangeStats& other);
  // "N bytes sent, B bits/param quantized, H after Huffman (W with headers), ratio Rx,
  //  encode E ms, decode D ms, communication C ms (W waiting for the ranks), CPU time: encode
  //  E' ms, decode D' ms", per exchange.
  std::string describe() const;
};

// Averages `arrays` over the ranks of `mpi` through packages of `codec` (its seed is replaced
// by one derived from `round`, the array and the rank, so a resumed run samples alike).
// A package that does not decode is an AgreedError naming the round, the sender and the array:
// every rank decodes the same gathered bytes in the same order, so every rank raises it alike.
//
// Test-only fault injection: CAFFE_TEST_CORRUPT_PACKAGE="R:I" makes rank R flip one byte of
// its first package after encoding it, in the exchange of round (iteration) I.
ExchangeStats average_over_ranks(const MpiContext& mpi, const std::vector<ExchangedArray>& arrays,
                                 CodecOptions codec, uint64_t round);

}  // namespace caffe
