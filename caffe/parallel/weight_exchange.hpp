// One exchange of the data-parallel trainer: every rank encodes its float arrays (weights, or
// gradients) with the codec, the ranks allgather the packages around a ring, and every rank
// decodes all of them and replaces each array by the mean over the ranks of the decoded values.
// Decoding overlaps the transfers: a worker thread decodes each rank's message as soon as it has
// arrived (this rank's own during the first transfer) into a buffer of that rank's; once all are
// in, the main thread sums the buffers in rank order (0..K-1) and divides by K.  So all ranks
// end with bit-identical arrays whatever the codec and whatever order the messages arrived in.
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
  // From the end of the communication until the average is in place: the decoding that did not
  // overlap the transfers (the last message's, or more where decoding is slower than the link),
  // and the sum over the ranks.
  double decode_ms = 0;
  // From the ranks' meeting until every rank's message is in (the transfers; decoding runs
  // beside them).
  double communication_ms = 0;
  double wait_ms = 0;  // the part of communication_ms spent waiting for every rank to arrive
  // The CPU time of encode_ms and decode_ms: their wall time on a host whose cores the rank
  // does not share.
  double encode_cpu_ms = 0;
  double decode_cpu_ms = 0;
  // The decoding thread's CPU time during the communication (hidden behind the transfers).
  double overlapped_decode_cpu_ms = 0;

  void Add(const ExchangeStats& other);
  // "N bytes sent, B bits/param quantized, H after Huffman (W with headers), ratio Rx,
  //  encode E ms, decode D ms, communication C ms (W waiting for the ranks), CPU time: encode
  //  E' ms, decode D' ms after the communication and O ms during it", per exchange.
  std::string describe() const;
};

// Averages arrays over the ranks of an MpiContext, keeping every rank's decoded values between
// exchanges (K buffers as large as the arrays together).
class WeightExchange {
 public:
  explicit WeightExchange(const MpiContext& mpi) : mpi_(mpi) {}

  // Averages `arrays` through packages of `codec` (its seed is replaced by one derived from
  // `round`, the array and the rank, so a resumed run samples alike).  A package that does not
  // decode is an AgreedError naming the round, the sender and the array: every rank decodes the
  // same gathered bytes, and reports the failing sender of lowest rank, so every rank raises it
  // alike (after the ring has finished: no rank leaves a peer waiting).
  //
  // Test-only fault injection: CAFFE_TEST_CORRUPT_PACKAGE="R:I" makes rank R flip one byte of
  // its first package after encoding it, in the exchange of round (iteration) I.
  ExchangeStats Average(const std::vector<ExchangedArray>& arrays, CodecOptions codec,
                        uint64_t round);

 private:
  const MpiContext& mpi_;
  std::vector<std::vector<float>> decoded_;  // [rank]: every array's values, end to end
};

}  // namespace caffe
