// The HDF5 fuzz target (see fuzz/targets.hpp).  libhdf5 itself does not survive damaged files
// (the raw-bytes harness crashed inside the library within a few hundred inputs; see
// docs/reliability.md), so this target fuzzes what the project controls: the fuzzer's bytes
// describe a valid .h5 file (datasets or groups named like HDF5Data's tops, their types, ranks,
// dimensions up to 2^40 rows and values), which the library writes; the HDF5Data layer then
// reads it.
#include <memory>

#include "caffe/core/blob.hpp"
#include "caffe/core/layer_registry.hpp"
#include "fuzz/target_support.hpp"

#ifdef CAFFE_USE_HDF5
#include <hdf5.h>

namespace caffe {
namespace fuzz {
namespace {

// Datasets with more elements than this are declared (chunked, no storage) but not written.
constexpr hsize_t kMaxWrittenElements = 4096;
constexpr hsize_t kHugeDims[] = {hsize_t{1} << 20, hsize_t{1} << 31, hsize_t{1} << 40, 4294967295u};
constexpr const char* kNames[] = {"data", "label", "extra"};

// One dimension: small mostly, sometimes huge.
hsize_t draw_dim(ByteSource& bytes) {
  const uint8_t b = bytes.byte();
  return b < 224 ? b % 8 : kHugeDims[b % 4];
}

hid_t draw_type(ByteSource& bytes) {
  switch (bytes.byte() % 6) {
    case 0:
      return H5T_IEEE_F32LE;
    case 1:
      return H5T_IEEE_F64BE;
    case 2:
      return H5T_STD_I32LE;
    case 3:
      return H5T_STD_U8LE;
    case 4:
      return H5T_STD_I64BE;
    default:
      return H5T_C_S1;  // not numeric
  }
}

// Adds one object drawn from `bytes` to `file`: a group, or a dataset whose values come from the
// bytes left (repeated as needed).  False when the library refuses the combination.
bool add_object(hid_t file, ByteSource& bytes) {
  const uint8_t kind = bytes.byte();
  const char* name = kNames[kind % 3];
  if (H5Lexists(file, name, H5P_DEFAULT) > 0) return true;
  if (kind & 0x80) {
    const hid_t group = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return group >= 0 && H5Gclose(group) >= 0;
  }
  const hid_t type = draw_type(bytes);
  const int rank = bytes.byte() % 5;  // 0: a scalar
  std::vector<hsize_t> dims(rank), chunk(rank, 1);
  hsize_t elements = 1;
  for (hsize_t& dim : dims) {
    dim = draw_dim(bytes);
    elements = dim != 0 && elements > ~hsize_t{0} / dim ? ~hsize_t{0} : elements * dim;
  }
  const hid_t space =
      rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr);
  const hid_t creation = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(creation, false);
  const bool written = elements <= kMaxWrittenElements;
  if (!written) H5Pset_chunk(creation, rank, chunk.data());
  const hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, creation, H5P_DEFAULT);
  bool ok = set >= 0;
  if (ok && written && elements > 0 && type != H5T_C_S1) {
    std::vector<float> values(elements);
    const std::string_view source = bytes.rest();
    for (hsize_t i = 0; i < elements; ++i) {
      values[i] = source.empty() ? 0.0f : static_cast<int8_t>(source[i % source.size()]) * 0.5f;
    }
    ok = H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0;
  }
  if (set >= 0) H5Dclose(set);
  H5Pclose(creation);
  H5Sclose(space);
  return ok;
}

// Writes the file the bytes describe; false when the library would not write it.
bool write_described_file(const std::string& path, ByteSource& bytes) {
  bool ok = false;
  H5E_BEGIN_TRY {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file >= 0) {
      ok = true;
      const int objects = 1 + bytes.byte() % 3;
      for (int i = 0; i < objects && ok; ++i) ok = add_object(file, bytes);
      ok = H5Fclose(file) >= 0 && ok;
    }
  }
  H5E_END_TRY;
  return ok;
}

// Runs one HDF5Data layer over the file listed in `list`: set up, then two batches.
void read_hdf5_batches(const std::string& list, bool shuffle) {
  LayerParameter param;
  param.set_name("hdf5");
  param.set_type("HDF5Data");
  param.add_top("data");
  param.add_top("label");
  param.mutable_hdf5_data_param()->set_source(list);
  param.mutable_hdf5_data_param()->set_batch_size(3);
  param.mutable_hdf5_data_param()->set_shuffle(shuffle);
  const std::unique_ptr<Layer> layer = LayerRegistry::Create(param);
  Blob data, label;
  const BlobVec tops = {&data, &label};
  layer->SetUp({}, tops);
  for (uint64_t pass : {0, 1}) {
    layer->set_step(0, pass);
    layer->Forward({}, tops);
  }
}

}  // namespace

void hdf5(const uint8_t* data, size_t size) {
  ByteSource bytes(data, size);
  const std::string file = scratch_dir() + "/fuzz.h5";
  if (!write_described_file(file, bytes)) return;
  const std::string list = write_scratch("fuzz_h5_list.txt", file + "\n");
  const BlobMemoryCap cap;
  for (bool shuffle : {false, true}) {
    accept_or_reject([&] { read_hdf5_batches(list, shuffle); });
  }
}

}  // namespace fuzz
}  // namespace caffe

#else  // !CAFFE_USE_HDF5

namespace caffe {
namespace fuzz {

// Builds without HDF5 have no reader to fuzz (HDF5Data refuses to set up).
void hdf5(const uint8_t*, size_t) {}

}  // namespace fuzz
}  // namespace caffe

#endif  // CAFFE_USE_HDF5
