// Writes the seed corpora, fuzz/corpus/<target>/, from the project's own files and writers: the
// models/ prototxts (data layers turned into Input layers, so that the nets build without data),
// caffemodels and solverstates the library saves, schedules, mean files, Datums, IDX files,
// descriptions of HDF5 files, images and codec packages the library encodes; and the prototxt
// dictionary fuzz/dicts/prototxt.dict (every field and enum value name of the schema, every layer
// type).
//
//   build-fuzz/make_corpus <repository root>      (scripts/fuzz.sh --corpus runs it)
//
// The output is deterministic, so re-running it changes no committed file.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "caffe/core/layer_registry.hpp"
#include "caffe/core/net.hpp"
#include "caffe/data/idx_reader.hpp"
#include "caffe/data/image_datum.hpp"
#include "caffe/parallel/codec.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"
#include "fuzz/targets.hpp"

namespace fs = std::filesystem;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

namespace caffe {
namespace {

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path root) : root_(std::move(root)) {}
  void write(const std::string& target, const std::string& name, const std::string& bytes) const {
    const fs::path folder = root_ / "fuzz" / "corpus" / target;
    fs::create_directories(folder);
    std::ofstream(folder / name, std::ios::binary) << bytes;
  }
  void write_text(const std::string& target, const std::string& name,
                  const google::protobuf::Message& message) const {
    std::string text;
    google::protobuf::TextFormat::PrintToString(message, &text);
    write(target, name, text);
  }
  void write_binary(const std::string& target, const std::string& name,
                    const google::protobuf::Message& message) const {
    write(target, name, message.SerializeAsString());
  }
  const fs::path& root() const { return root_; }

 private:
  fs::path root_;
};

// ---- nets and solvers ----

// The data layers of a models/ net become Input layers with small shapes of the kind they
// read: images C x S x S (+ labels), or T x N sequences for HDF5Data.
NetParameter with_input_layers(NetParameter net, int channels, int side) {
  for (LayerParameter& layer : *net.mutable_layer()) {
    const std::string type = layer.type();
    if (type != "Data" && type != "ImageData" && type != "HDF5Data") continue;
    LayerParameter input;
    input.set_name(layer.name());
    input.set_type("Input");
    *input.mutable_top() = layer.top();
    *input.mutable_include() = layer.include();
    *input.mutable_exclude() = layer.exclude();
    for (int t = 0; t < layer.top_size(); ++t) {
      BlobShape* shape = input.mutable_input_param()->add_shape();
      if (type == "HDF5Data") {
        for (int dim : {3, 2}) shape->add_dim(dim);
      } else if (t == 0) {
        for (int dim : {2, channels, side, side}) shape->add_dim(dim);
      } else {
        shape->add_dim(2);
      }
    }
    layer = input;
  }
  return net;
}

struct ModelSeed {
  const char* net;     // under models/
  const char* solver;  // under models/
  int channels;
  int side;
  const char* name;
};

const ModelSeed kModels[] = {
    {"lenet/train_val.prototxt", "lenet/solver.prototxt", 1, 28, "lenet"},
    {"mnist_mlp/train_val.prototxt", "mnist_mlp/solver.prototxt", 1, 28, "mnist_mlp"},
    {"cifar10_quick/train_val.prototxt", "cifar10_quick/solver.prototxt", 3, 32, "cifar10_quick"},
    {"cifar10_resnet18/train_val.prototxt", nullptr, 3, 32, "cifar10_resnet18"},
    {"ptb_lstm/small/tile_p50_train_val.prototxt", "ptb_lstm/small/tile_p50_solver.prototxt", 0, 0,
     "ptb_small_tile"},
    {"ptb_lstm/small/row_p50_train_val.prototxt", nullptr, 0, 0, "ptb_small_row"},
    {"ptb_lstm/small/standard_p50_train_val.prototxt", nullptr, 0, 0, "ptb_small_standard"},
};

// Nets in the legacy forms: V1 `layers` with enum types and blobs_lr, V0 layers inside layers,
// a deploy header (input / input_dim) and data-layer transform fields.
constexpr char kV1Net[] = R"(
name: "v1_mlp"
input: "data" input_dim: 2 input_dim: 6
layers { name: "fc1" type: INNER_PRODUCT bottom: "data" top: "fc1" blobs_lr: 1 blobs_lr: 2
         weight_decay: 1 weight_decay: 0 inner_product_param { num_output: 5 } }
layers { name: "act" type: TANH bottom: "fc1" top: "fc1" }
layers { name: "drop" type: DROPOUT bottom: "fc1" top: "fc1" dropout_param { dropout_ratio: 0.3 } }
layers { name: "fc2" type: INNER_PRODUCT bottom: "fc1" top: "fc2" inner_product_param { num_output: 3 } }
layers { name: "prob" type: SOFTMAX bottom: "fc2" top: "prob" include { phase: TEST } }
)";

constexpr char kV0Net[] = R"(
name: "v0_mlp"
input: "data" input_dim: 2 input_dim: 1 input_dim: 3 input_dim: 3
layers { layer { name: "fc1" type: "innerproduct" num_output: 4 blobs_lr: 1 weight_decay: 1 }
         bottom: "data" top: "fc1" }
layers { layer { name: "act" type: "sigmoid" } bottom: "fc1" top: "fc1" }
layers { layer { name: "fc2" type: "innerproduct" num_output: 2 biasterm: false }
         bottom: "fc1" top: "fc2" }
layers { layer { name: "prob" type: "softmax" } bottom: "fc2" top: "prob" }
)";

constexpr char kLegacyDataNet[] = R"(
name: "legacy_data"
layers { name: "mnist" type: DATA top: "data" top: "label"
         data_param { source: "db" batch_size: 4 scale: 0.0039 mirror: true crop_size: 2 } }
layers { name: "fc" type: INNER_PRODUCT bottom: "data" top: "fc" inner_product_param { num_output: 2 } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "fc" bottom: "label" top: "loss" }
)";

NetParameter parse_net(const std::string& text) {
  NetParameter net;
  read_proto_from_text(text, "make_corpus", &net);
  return net;
}

void write_net_seeds(const CorpusWriter& out, const NetParameter& fixed) {
  for (const ModelSeed& model : kModels) {
    const fs::path net_path = out.root() / "models" / model.net;
    const NetParameter net =
        with_input_layers(read_net_param(net_path.string()), model.channels, model.side);
    out.write_text("net_text", std::string(model.name) + ".prototxt", net);
    if (!model.solver) continue;
    SolverParameter solver;
    read_proto_from_text_file((out.root() / "models" / model.solver).string(), &solver);
    solver.clear_net();
    solver.clear_snapshot_prefix();
    *solver.mutable_net_param() = net;
    out.write_text("solver_text", std::string(model.name) + "_solver.prototxt", solver);
  }
  out.write_text("net_text", "fixed.prototxt", fixed);
  for (const auto& [name, text] : {std::pair{"v1.prototxt", kV1Net},
                                   {"v0.prototxt", kV0Net},
                                   {"legacy_data.prototxt", kLegacyDataNet}}) {
    out.write("net_text", name, text);
    out.write("upgrade", name, text);
  }
  // An old-style solver: solver_type, a test net of its own, weights by stepvalue.
  SolverParameter old_solver;
  old_solver.set_solver_type(SolverParameter::NESTEROV);
  old_solver.set_base_lr(0.1f);
  old_solver.set_momentum(0.9f);
  old_solver.set_lr_policy("multistep");
  for (int step : {10, 20}) old_solver.add_stepvalue(step);
  old_solver.set_gamma(0.1f);
  old_solver.set_max_iter(30);
  old_solver.set_clip_gradients(1.0f);
  *old_solver.mutable_train_net_param() = parse_net(kV1Net);
  *old_solver.add_test_net_param() = parse_net(kV0Net);
  old_solver.add_test_iter(2);
  old_solver.set_test_interval(10);
  out.write_text("solver_text", "old_nesterov.prototxt", old_solver);
}

// ---- weights and solver states ----

// The fixed net of the caffemodel target, written as the current format and as V1 layers.
void write_weight_seeds(const CorpusWriter& out, const NetParameter& fixed_param) {
  Net net(fixed_param);
  NetParameter weights;
  net.ToProto(&weights);
  out.write_binary("caffemodel", "fixed.caffemodel", weights);
  NetParameter v1;
  v1.set_name(weights.name());
  for (const LayerParameter& layer : weights.layer()) {
    if (layer.type() != "InnerProduct") continue;
    V1LayerParameter* old = v1.add_layers();
    old->set_name(layer.name());
    old->set_type(V1LayerParameter::INNER_PRODUCT);
    *old->mutable_bottom() = layer.bottom();
    *old->mutable_top() = layer.top();
    for (BlobProto blob : layer.blobs()) {
      // Model-zoo files carry the 4-d legacy dims instead of a shape.
      const std::vector<int> shape = proto_shape(blob);
      blob.clear_shape();
      blob.set_num(1);
      blob.set_channels(1);
      blob.set_height(shape.size() > 1 ? shape[0] : 1);
      blob.set_width(shape.back());
      *old->add_blobs() = blob;
    }
  }
  out.write_binary("caffemodel", "fixed_v1.caffemodel", v1);
}

// A snapshot of the solverstate target's solver (SGD, momentum), its learned_net a bare name
// (the target looks it up beside the state); the same with two history sets (a 2-process
// data-parallel snapshot), and that one labelled Adam.
void write_state_seeds(const CorpusWriter& out, const NetParameter& fixed_param) {
  const fs::path folder = fs::temp_directory_path() / "caffe_make_corpus";
  fs::create_directories(folder);
  SolverParameter param;
  param.set_type("SGD");
  param.set_base_lr(0.1f);
  param.set_momentum(0.9f);
  param.set_snapshot_prefix((folder / "fixed").string());
  *param.mutable_train_net_param() = fixed_param;
  const std::unique_ptr<Solver> solver = Solver::Create(param);
  solver->Step(2);
  const SnapshotFiles files = solver->Snapshot();
  SolverState state;
  read_proto_from_binary_file(files.solverstate, &state);
  fs::remove_all(folder);
  state.set_learned_net("fixed.caffemodel");
  out.write_binary("solverstate", "sgd_iter_2.solverstate", state);
  const int histories = state.history_size();
  for (int i = 0; i < histories; ++i) *state.add_history() = state.history(i);
  out.write_binary("solverstate", "sgd_2_ranks.solverstate", state);
  state.set_solver_type("Adam");
  out.write_binary("solverstate", "adam_iter_2.solverstate", state);
}

// ---- approximate-dropout schedules, mean files ----

void write_schedule_seeds(const CorpusWriter& out) {
  DropoutSchedule row;
  row.set_pattern(ApproxDropoutParameter::ROW);
  row.set_target_ratio(0.5f);
  row.set_max_period(3);
  for (float d : {0.2f, 0.3f, 0.5f}) row.add_distribution(d);
  for (int i = 0; i < 6; ++i) {
    row.add_period(1 + i % 3);
    row.add_offset(i % (1 + i % 3));
  }
  row.set_seed(5);
  row.set_width(6);
  out.write_binary("schedule", "row.schedule", row);
  DropoutSchedule tile = row;
  tile.set_pattern(ApproxDropoutParameter::TILE);
  tile.set_tile_size(2);
  out.write_binary("schedule", "tile.schedule", tile);
}

void write_mean_seeds(const CorpusWriter& out) {
  BlobProto mean;
  for (int dim : {1, 3, 4, 4}) mean.mutable_shape()->add_dim(dim);
  for (int i = 0; i < 48; ++i) mean.add_data(static_cast<float>(i % 7) * 10.0f);
  out.write_binary("mean_file", "mean_1x3x4x4.binaryproto", mean);
  BlobProto legacy;
  legacy.set_num(1);
  legacy.set_channels(1);
  legacy.set_height(2);
  legacy.set_width(3);
  for (int i = 0; i < 6; ++i) legacy.add_double_data(i * 0.5);
  out.write_binary("mean_file", "legacy_1x1x2x3.binaryproto", legacy);
}

// ---- images, Datums ----

Image test_image(int height, int width, int channels) {
  Image image{height, width, channels,
              std::vector<uint8_t>(static_cast<size_t>(height) * width * channels)};
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 37);
  return image;
}

void write_image_and_datum_seeds(const CorpusWriter& out) {
  const Image color = test_image(5, 4, 3);
  const Image gray = test_image(8, 8, 1);
  const std::string png = encode_image(color, ImageFormat::PNG);
  const std::string jpeg = encode_image(gray, ImageFormat::JPEG, 90);
  out.write("image", "color_5x4.png", png);
  out.write("image", "gray_8x8.png", encode_image(gray, ImageFormat::PNG));
  out.write("image", "gray_8x8.jpg", jpeg);
  out.write("image", "color_5x4.jpg", encode_image(color, ImageFormat::JPEG, 75));

  out.write_binary("datum", "raw_3x5x4.datum", image_to_datum(color, 3));
  Datum floats;
  floats.set_channels(1);
  floats.set_height(2);
  floats.set_width(3);
  for (int i = 0; i < 6; ++i) floats.add_float_data(i * 1.5f);
  floats.set_label(1);
  out.write_binary("datum", "float_1x2x3.datum", floats);
  for (const auto& [name, bytes] :
       {std::pair{"encoded_png.datum", png}, {"encoded_jpg.datum", jpeg}}) {
    Datum encoded;
    encoded.set_data(bytes);
    encoded.set_encoded(true);
    encoded.set_label(2);
    out.write_binary("datum", name, encoded);
  }
}

// ---- IDX, HDF5, lists, codec packages ----

std::string big_endian(uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (24 - 8 * i));
  return bytes;
}

std::string gzip(const std::string& bytes) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string packed(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(packed.data());
  stream.avail_out = static_cast<uInt>(packed.size());
  deflate(&stream, Z_FINISH);
  packed.resize(stream.total_out);
  deflateEnd(&stream);
  return packed;
}

void write_idx_seeds(const CorpusWriter& out) {
  std::string images = big_endian(kIdxImagesMagic);
  for (uint32_t dim : {2u, 3u, 3u}) images += big_endian(dim);
  for (int i = 0; i < 18; ++i) images += static_cast<char>(i * 14);
  std::string labels = big_endian(kIdxLabelsMagic) + big_endian(2) + std::string("\x03\x07", 2);
  out.write("idx", "images_2x3x3.idx", images);
  out.write("idx", "labels_2.idx", labels);
  out.write("idx", "images_2x3x3.idx.gz", gzip(images));
}

// Descriptions of .h5 files for the hdf5 target (fuzz/targets_hdf5.cpp): an object count, then
// per object a name (0 data, 1 label), a type (0 float, 2 int32), a rank and its dimensions
// (a byte >= 224 is a huge one); values come from the bytes after.
void write_hdf5_and_list_seeds(const CorpusWriter& out) {
  const auto seed = [](std::initializer_list<int> bytes) {
    std::string text;
    for (int b : bytes) text += static_cast<char>(b);
    return text + "values: 0123456789abcdef";
  };
  out.write("hdf5", "rows_4x3.spec", seed({1, 0, 0, 2, 4, 3, 1, 2, 1, 4}));
  out.write("hdf5", "seq_5x2.spec", seed({1, 0, 0, 2, 5, 2, 1, 2, 2, 5, 2}));
  out.write("hdf5", "huge_rows.spec", seed({1, 0, 0, 2, 225, 3, 1, 2, 1, 225}));
  out.write("lists", "images.txt", "cat.jpg 0\nfolder/dog with space.png 1\n\n\tbird.jpg\t2\n");
  out.write("lists", "h5_list.txt", "train.h5\n  valid.h5  \n");
}

void write_package_seeds(const CorpusWriter& out) {
  std::vector<float> weights(12);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = std::sin(static_cast<float>(i)) * 0.1f;
  for (const char* mode : {"dynamic", "fixed:4", "fp16", "none"}) {
    CodecOptions options;
    set_codec_mode(mode, &options);
    options.sample_fraction = 1.0;
    const std::vector<uint8_t> package = encode_weights("w", weights.data(), {3, 4}, options);
    std::string name = mode;
    std::replace(name.begin(), name.end(), ':', '_');
    // The first byte is the target's flag: 0 leaves the CRC as it is.
    out.write("package", name + ".pkg",
              std::string(1, '\0') + std::string(package.begin(), package.end()));
  }
  const std::vector<float> constant(6, 0.25f);
  const std::vector<uint8_t> flat = encode_weights("c", constant.data(), {2, 3}, CodecOptions{});
  out.write("package", "constant.pkg",
            std::string(1, '\0') + std::string(flat.begin(), flat.end()));
}

// ---- the prototxt dictionary ----

void collect_names(const Descriptor* message, std::set<const Descriptor*>* seen,
                   std::set<std::string>* names) {
  if (!seen->insert(message).second) return;
  for (int f = 0; f < message->field_count(); ++f) {
    const FieldDescriptor* field = message->field(f);
    names->insert(field->name());
    if (field->enum_type()) {
      for (int v = 0; v < field->enum_type()->value_count(); ++v) {
        names->insert(field->enum_type()->value(v)->name());
      }
    }
    if (field->message_type()) collect_names(field->message_type(), seen, names);
  }
}

void write_dictionary(const fs::path& root) {
  std::set<const Descriptor*> seen;
  std::set<std::string> names;
  collect_names(NetParameter::descriptor(), &seen, &names);
  collect_names(SolverParameter::descriptor(), &seen, &names);
  for (const std::string& type : LayerRegistry::Types()) names.insert("\\\"" + type + "\\\"");
  fs::create_directories(root / "fuzz" / "dicts");
  std::ofstream dict(root / "fuzz" / "dicts" / "prototxt.dict");
  dict << "# prototxt tokens: the schema's field and enum value names and the layer types\n"
       << "# (written by fuzz/make_corpus.cpp)\n";
  for (const std::string& name : names) dict << '"' << name << "\"\n";
  for (const char* token : {"{", "}", ":", "\\\"", "#"}) dict << '"' << token << "\"\n";
}

}  // namespace
}  // namespace caffe

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus <repository root>\n";
    return 2;
  }
  caffe::fuzz::init_harness();
  caffe::set_random_seed(1701);
  try {
    const caffe::CorpusWriter out{fs::path(argv[1])};
    caffe::NetParameter fixed;
    caffe::read_proto_from_text(caffe::fuzz::kFixedNet, "the fixed fuzz net", &fixed);
    caffe::write_net_seeds(out, fixed);
    caffe::write_weight_seeds(out, fixed);
    caffe::write_state_seeds(out, fixed);
    caffe::write_schedule_seeds(out);
    caffe::write_mean_seeds(out);
    caffe::write_image_and_datum_seeds(out);
    caffe::write_idx_seeds(out);
    caffe::write_hdf5_and_list_seeds(out);
    caffe::write_package_seeds(out);
    caffe::write_dictionary(out.root());
  } catch (const caffe::Error& error) {
    std::cerr << "make_corpus: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
