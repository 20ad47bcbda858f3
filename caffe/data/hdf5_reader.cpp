// HDF5 input for the HDF5Data layer: its source list of .h5 files, and (in builds with HDF5)
// the dataset reads, which are the library's only HDF5 calls.
#include "caffe/data/hdf5_reader.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "caffe/core/common.hpp"

#ifdef CAFFE_USE_HDF5
#include <hdf5.h>
#endif

namespace caffe {
namespace {

namespace fs = std::filesystem;

// Finds a listed .h5 file: as given (absolute, or relative to the working directory), else
// relative to the list file's folder.  `where` is "'name' (list:line)" for the error.
std::string resolve_listed(const std::string& name, const fs::path& list_folder,
                           const std::string& where) {
  std::error_code error;
  const fs::path as_given(name);
  if (fs::exists(as_given, error)) return as_given.string();
  if (as_given.is_absolute()) fail(where, " does not exist");
  if (fs::exists(list_folder / as_given, error)) return (list_folder / as_given).string();
  fail(where, " exists neither in the current directory (", fs::current_path(error).string(),
       ") nor beside the list file (", fs::absolute(list_folder, error).string(), ")");
}

}  // namespace

std::vector<std::string> read_hdf5_source_list(const std::string& source) {
  std::error_code error;
  if (!fs::is_regular_file(source, error)) {
    fail("hdf5_data_param.source '", source,
         "' does not exist (it should be a text file listing .h5 files, one per line)");
  }
  std::ifstream list(source);
  if (!list) fail("cannot read hdf5_data_param.source '", source, "'");
  const fs::path list_folder = fs::path(source).parent_path();
  std::vector<std::string> paths;
  std::string line;
  for (int line_number = 1; std::getline(list, line); ++line_number) {
    const size_t begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    const std::string name = line.substr(begin, line.find_last_not_of(" \t\r") - begin + 1);
    paths.push_back(resolve_listed(
        name, list_folder, "'" + name + "' (" + source + ":" + std::to_string(line_number) + ")"));
  }
  if (paths.empty()) fail("hdf5_data_param.source '", source, "' lists no .h5 files");
  return paths;
}

#ifdef CAFFE_USE_HDF5

namespace {

// Runs an HDF5 call with the library's automatic error-stack printing off: failures become
// caffe::Error messages instead.
template <typename Call>
auto quietly(Call&& call) -> decltype(call()) {
  decltype(call()) result{};
  H5E_BEGIN_TRY { result = call(); }
  H5E_END_TRY;
  return result;
}

// Owns an HDF5 identifier and closes it with the matching H5*close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

}  // namespace

// The open file behind an HDF5Reader.
class HDF5Reader::File {
 public:
  explicit File(const std::string& path)
      : path_(path),
        file_(quietly([&] { return H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); }),
              H5Fclose) {
    if (!file_.valid()) fail("cannot open '", path, "': not an HDF5 file, or unreadable");
  }

  // Shape of dataset `name` (the one top `name` reads); fails if it is absent or not numeric.
  std::vector<uint64_t> dims(const std::string& name) const {
    const Handle dataset = open_dataset(name);
    const Handle type(H5Dget_type(dataset.get()), H5Tclose);
    const H5T_class_t type_class = H5Tget_class(type.get());
    if (type_class != H5T_INTEGER && type_class != H5T_FLOAT) {
      fail("dataset '", name, "' in '", path_,
           "' is not numeric; HDF5Data reads integer or floating-point datasets");
    }
    const Handle space(H5Dget_space(dataset.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 1) fail("dataset '", name, "' in '", path_, "' is a scalar; it needs rows");
    std::vector<hsize_t> extent(rank);
    H5Sget_simple_extent_dims(space.get(), extent.data(), nullptr);
    return std::vector<uint64_t>(extent.begin(), extent.end());
  }

  // Reads all of dataset `name` into `out`, converted to float by the library.
  void read(const std::string& name, float* out) const {
    const Handle dataset = open_dataset(name);
    const herr_t status = quietly([&] {
      return H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    });
    if (status < 0) fail("failed to read dataset '", name, "' from '", path_, "'");
  }

 private:
  bool is_dataset(const std::string& name) const {
    if (quietly([&] { return H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT); }) <= 0) {
      return false;
    }
    const Handle object(quietly([&] { return H5Oopen(file_.get(), name.c_str(), H5P_DEFAULT); }),
                        H5Oclose);
    return object.valid() && H5Iget_type(object.get()) == H5I_DATASET;
  }

  std::string dataset_names() const {
    H5G_info_t info;
    if (H5Gget_info(file_.get(), &info) < 0) return "(unreadable)";
    std::string names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t length = H5Lget_name_by_idx(file_.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                                nullptr, 0, H5P_DEFAULT);
      if (length < 0) continue;
      std::string name(static_cast<size_t>(length) + 1, '\0');
      H5Lget_name_by_idx(file_.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                         H5P_DEFAULT);
      name.resize(static_cast<size_t>(length));
      if (is_dataset(name)) names += (names.empty() ? "" : ", ") + name;
    }
    return names.empty() ? "none" : names;
  }

  Handle open_dataset(const std::string& name) const {
    if (!is_dataset(name)) {
      fail("top '", name, "' reads dataset '", name, "', but '", path_,
           "' has no such dataset (datasets present: ", dataset_names(), ")");
    }
    Handle dataset(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) fail("cannot open dataset '", name, "' in '", path_, "'");
    return dataset;
  }

  std::string path_;
  Handle file_;
};

bool hdf5_supported() { return true; }

HDF5Reader::HDF5Reader(const std::string& path) : file_(std::make_unique<File>(path)) {}

std::vector<uint64_t> HDF5Reader::dims(const std::string& name) const { return file_->dims(name); }

void HDF5Reader::read(const std::string& name, float* out) const { file_->read(name, out); }

#else  // !CAFFE_USE_HDF5

// HDF5Data checks hdf5_supported() and fails before it makes any reader.
class HDF5Reader::File {};

bool hdf5_supported() { return false; }

HDF5Reader::HDF5Reader(const std::string&) { fail("unreachable: built without HDF5"); }

std::vector<uint64_t> HDF5Reader::dims(const std::string&) const { return {}; }

void HDF5Reader::read(const std::string&, float*) const {}

#endif  // CAFFE_USE_HDF5

HDF5Reader::~HDF5Reader() = default;

}  // namespace caffe
