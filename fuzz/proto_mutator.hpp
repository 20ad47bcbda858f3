// A structure-aware mutator for the prototxt harnesses (net_text, solver_text, upgrade): byte
// mutations of prototxt text mostly break its syntax, so most of the time the input is parsed as
// the harness's message, one to three fields chosen through reflection are changed (a value set
// to a boundary case, a field added, removed or duplicated, a name or layer type swapped for
// another one of the net's), and the text is printed back.  Fuzz build only (it calls
// libFuzzer's LLVMFuzzerMutate for the byte-level rest).
#pragma once

#include <cstddef>
#include <cstdint>

namespace google {
namespace protobuf {
class Message;
}  // namespace protobuf
}  // namespace google

namespace caffe {
namespace fuzz {

// LLVMFuzzerCustomMutator's contract: mutates data[0, size) in place into at most max_size
// bytes and returns the new size.  `prototype` is an empty message of the harness's type.
size_t mutate_prototxt(const google::protobuf::Message& prototype, uint8_t* data, size_t size,
                       size_t max_size, unsigned seed);

}  // namespace fuzz
}  // namespace caffe

// A harness over prototxt text of `Message` that uses mutate_prototxt.
#define CAFFE_FUZZ_PROTOTXT_MUTATOR(Message)                                                 \
  extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,    \
                                            unsigned seed) {                                 \
    static const Message prototype;                                                         \
    return ::caffe::fuzz::mutate_prototxt(prototype, data, size, max_size, seed);           \
  }
