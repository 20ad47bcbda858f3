// The table of fuzz targets and what they share (fuzz/target_support.hpp).
#include "fuzz/targets.hpp"

#include <glog/logging.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "fuzz/target_support.hpp"

namespace caffe {
namespace fuzz {
namespace {

namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;

// The scratch folder, made on first use and removed when the process exits normally.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "caffe_fuzz_XXXXXX").string();
    if (!mkdtemp(pattern.data())) fail("cannot create a scratch folder ", pattern);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool names_file(const std::string& field) {
  return field == "source" || field.find("file") != std::string::npos;
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"net_text", net_text, "NetParameter prototxt, upgraded and built (TEST), forward/backward"},
      {"solver_text", solver_text, "SolverParameter prototxt, upgraded, solver created"},
      {"upgrade", upgrade, "V0/V1 NetParameter prototxt through upgrade_net"},
      {"caffemodel", caffemodel, "binary NetParameter into Net::CopyTrainedLayersFrom"},
      {"solverstate", solverstate, "binary SolverState into Solver::Restore"},
      {"schedule", schedule, "binary DropoutSchedule, approximate-dropout layer in TRAIN"},
      {"mean_file", mean_file, "binary BlobProto as transform_param.mean_file"},
      {"datum", datum, "Datum record as the Data layer decodes and transforms it"},
      {"idx", idx, "IDX file through read_idx_file (convert_mnist_data)"},
      {"hdf5", hdf5, ".h5 file through the HDF5Data layer"},
      {"image", image, "JPEG / PNG bytes through convert_imageset's decoder"},
      {"package", package, "weight-codec package through read_package + decode_payload"},
      {"lists", lists, "image list and HDF5 source list files"},
  };
  return all;
}

const Target& target_named(const std::string& name) {
  std::string names;
  for (const Target& target : targets()) {
    if (name == target.name) return target;
    names += (names.empty() ? "" : ", ") + std::string(target.name);
  }
  fail("no fuzz target named '", name, "'; the targets are ", names);
}

void init_harness() {
  FLAGS_minloglevel = google::GLOG_FATAL;
  google::protobuf::SetLogHandler(nullptr);
  set_blas_threads(1);
}

const std::string& scratch_dir() {
  static const ScratchDir dir;
  return dir.path();
}

std::string write_scratch(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write the scratch file ", path);
  return path;
}

void clear_file_names(google::protobuf::Message* message) {
  const google::protobuf::Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!field->is_repeated()) {
        clear_file_names(reflection->MutableMessage(message, field));
        continue;
      }
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        clear_file_names(reflection->MutableRepeatedMessage(message, field, i));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && names_file(field->name())) {
      reflection->ClearField(message, field);
    }
  }
}

}  // namespace fuzz
}  // namespace caffe
