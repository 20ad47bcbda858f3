// The fuzz targets: one function per parser of outside bytes, each feeding the bytes through the
// project's own loader the way the framework uses it.  The libFuzzer harnesses
// (fuzz/fuzz_<name>.cpp) and the regression test (tests/cpp/test_fuzz_regressions.cpp) call the
// same functions, so every reproducer kept under fuzz/regressions/<name>/ keeps being checked by
// the normal test suite.
//
// A target returns normally when the loader accepts the bytes or rejects them with caffe::Error.
// Anything else is a bug: another exception escapes, and a crash, an abort (a CHECK or an
// assert), a leak or undefined behaviour is reported by the sanitizers of the fuzz build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace caffe {
namespace fuzz {

using TargetFunction = void (*)(const uint8_t* data, size_t size);

struct Target {
  const char*
      name;  // the harness is fuzz/fuzz_<name>.cpp, its files fuzz/{corpus,regressions}/<name>
  TargetFunction run;
  const char* what;  // the loader it drives, for the docs and messages
};

// Every target, in the order scripts/fuzz.sh runs them.
const std::vector<Target>& targets();
// The target called `name`; caffe::Error listing the names when there is none.
const Target& target_named(const std::string& name);

// Blob memory a target may hold at once (host_memory_limit, caffe/core/synced_memory.hpp): a net
// or a file whose shapes ask for more is rejected with caffe::Error instead of allocated.
constexpr size_t kBlobMemoryCap = size_t{64} << 20;

// NetParameter prototxt: read_proto_from_text + upgrade_net_logged (what read_net_param does),
// then, with the fields that name outside files cleared, a Net in phase TEST, forward and back.
void net_text(const uint8_t* data, size_t size);
// SolverParameter prototxt: parsed and upgraded as load_solver_param does; a solver that names no
// outside file (its nets inline) is created, and its learning rate evaluated over iterations.
void solver_text(const uint8_t* data, size_t size);
// V0 / V1 NetParameter prototxt through upgrade_net alone, which must leave a current net.
void upgrade(const uint8_t* data, size_t size);
// Binary NetParameter (.caffemodel): Net::CopyTrainedLayersFrom(file) into a small fixed net.
void caffemodel(const uint8_t* data, size_t size);
// Binary SolverState (.solverstate): Solver::Restore(file) of a small fixed SGD solver, alone and
// as rank 1 of a 2-process data-parallel job (which keeps its own history set first).
void solverstate(const uint8_t* data, size_t size);
// Binary DropoutSchedule: the approximate-dropout schedule reader, and a layer in TRAIN using it.
void schedule(const uint8_t* data, size_t size);
// Binary BlobProto (mean file): DataTransformer's mean_file, and Blob::FromProto.
void mean_file(const uint8_t* data, size_t size);
// A Datum record as the Data layer decodes it (parse_datum, image decoding of encoded records)
// and transforms it (crop, mirror, mean values).
void datum(const uint8_t* data, size_t size);
// IDX file (convert_mnist_data): read_idx_file as images and as labels.
void idx(const uint8_t* data, size_t size);
// .h5 file through the HDF5Data layer (setup, two batches, with and without shuffling).  The
// bytes describe the file (datasets, types, dimensions, values), which libhdf5 writes: raw bytes
// crash libhdf5 itself (fuzz/targets_hdf5.cpp).
void hdf5(const uint8_t* data, size_t size);
// Image bytes through convert_imageset's decoder: decode_image, channel conversion, resizing,
// the raw Datum and re-encoding.
void image(const uint8_t* data, size_t size);
// Weight-codec package (caffe/parallel): read_package, then decode_payload into a blob of the
// package's shape, as the data-parallel trainer does.  The first byte chooses
// whether the harness repairs the trailing CRC first, so that the fuzzer gets past it.
void package(const uint8_t* data, size_t size);
// Text list files: an image list (ImageData, convert_imageset) and an HDF5 source list.
void lists(const uint8_t* data, size_t size);

// The net the caffemodel and solverstate targets load into (fuzz/make_corpus.cpp writes their seeds
// from it): every kind of layer with weights
// (InnerProduct, BatchNorm, Scale with bias, Embed, LSTM, InnerProductApproxDropout).  The
// approximate-dropout branch is TEST-only: in TRAIN it would need a schedule file.
inline constexpr char kFixedNet[] = R"(
name: "fuzz_fixed"
layer {
  name: "data" type: "Input" top: "data" top: "label" top: "ids" top: "seq" top: "cont"
  input_param {
    shape { dim: 2 dim: 3 dim: 2 dim: 2 } shape { dim: 2 } shape { dim: 2 }
    shape { dim: 3 dim: 2 dim: 4 } shape { dim: 3 dim: 2 }
  }
}
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
        inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "bn" type: "BatchNorm" bottom: "ip1" top: "ip1" }
layer { name: "scale" type: "Scale" bottom: "ip1" top: "ip1" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "embed" type: "Embed" bottom: "ids" top: "embed"
        embed_param { input_dim: 5 num_output: 4 } }
layer { name: "join" type: "Eltwise" bottom: "ip1" bottom: "embed" top: "join" }
layer { name: "ip2" type: "InnerProduct" bottom: "join" top: "ip2"
        inner_product_param { num_output: 3 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
layer { name: "lstm" type: "LSTM" bottom: "seq" bottom: "cont" top: "lstm"
        recurrent_param { num_output: 2 weight_filler { type: "uniform" min: -0.1 max: 0.1 } } }
layer { name: "decoder" type: "InnerProductApproxDropout" bottom: "lstm" top: "decoder"
        include { phase: TEST }
        inner_product_param { num_output: 3 axis: 2 } approx_dropout_param { pattern: ROW } }
layer { name: "silence" type: "Silence" bottom: "decoder" include { phase: TEST } }
)";

// Quiets logging (glog, protobuf) and pins the thread counts to one; the harnesses call it once.
void init_harness();

}  // namespace fuzz
}  // namespace caffe
