// HDF5 input for the HDF5Data layer: the source list (a text file naming .h5 files) and read-only
// access to the top-level numeric datasets of one .h5 file.  The interface is the same in builds
// without HDF5 (CMake found no libhdf5); hdf5_supported() tells them apart.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace caffe {

// Whether this build can read .h5 files.
bool hdf5_supported();

// The .h5 files named in `source`, one per line (blank lines skipped, surrounding blanks
// trimmed).  Each is taken as given (absolute, or relative to the working directory), else
// relative to the list file's folder; a name found in neither is an error naming its line.
std::vector<std::string> read_hdf5_source_list(const std::string& source);

// One open .h5 file.  Errors name the file and dataset, phrased for HDF5Data (whose top i reads
// the dataset of the same name).
class HDF5Reader {
 public:
  // Fails if `path` is not an HDF5 file or unreadable.  Only for builds with hdf5_supported().
  explicit HDF5Reader(const std::string& path);
  ~HDF5Reader();
  HDF5Reader(const HDF5Reader&) = delete;
  HDF5Reader& operator=(const HDF5Reader&) = delete;

  // Shape of dataset `name`; fails if it is absent, not numeric, or a scalar.
  std::vector<uint64_t> dims(const std::string& name) const;
  // Reads all of dataset `name` into `out`, converted to float by the library.
  void read(const std::string& name, float* out) const;

 private:
  // The HDF5 handles, defined beside the HDF5 calls so that hdf5.h stays out of this header.
  class File;
  std::unique_ptr<File> file_;
};

}  // namespace caffe
