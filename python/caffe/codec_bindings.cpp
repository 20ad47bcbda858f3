// caffe._caffe.codec_encode / codec_decode / codec_inspect: the weight codec
// (caffe/parallel/codec.hpp) on numpy arrays and bytes-like packages, behind caffe.compression.
// The work runs without the GIL, so encoding in one Python thread does not stall the others.
#include <pybind11/stl.h>

#include <climits>

#include "bindings.hpp"
#include "caffe/parallel/codec.hpp"

namespace caffe::python {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::vector<int> array_shape(const FloatArray& array, const std::string& name) {
  std::vector<int> shape;
  for (py::ssize_t axis = 0; axis < array.ndim(); ++axis) {
    if (array.shape(axis) > INT_MAX) {
      fail("codec: blob '", name, "' has an axis of ", array.shape(axis),
           " (blob axes are at most ", INT_MAX, ")");
    }
    shape.push_back(static_cast<int>(array.shape(axis)));
  }
  return shape;
}

// The package's bytes: any one-dimensional contiguous byte buffer (bytes, bytearray, a
// memoryview cast to "B", a uint8 array).
py::buffer_info package_bytes(const py::buffer& package) {
  py::buffer_info info = package.request();
  if (info.ndim != 1 || info.itemsize != 1 || (info.size > 1 && info.strides[0] != 1)) {
    throw py::type_error("a codec package must be contiguous bytes (bytes, bytearray, uint8)");
  }
  return info;
}

py::bytes encode(const FloatArray& array, const std::string& mode, int c, int sample_bits,
                 double sample_fraction, int ceiling, uint64_t seed, const std::string& name) {
  CodecOptions options;
  set_codec_mode(mode, &options);
  options.c = c;
  options.sample_bits = sample_bits;
  options.sample_fraction = sample_fraction;
  options.ceiling = ceiling;
  options.seed = seed;
  const std::vector<int> shape = array_shape(array, name);
  std::vector<uint8_t> package;
  {
    py::gil_scoped_release release;
    package = encode_weights(name, array.data(), shape, options);
  }
  return py::bytes(reinterpret_cast<const char*>(package.data()), package.size());
}

py::array_t<float> decode(const py::buffer& buffer, const std::string& source) {
  const py::buffer_info bytes = package_bytes(buffer);
  const ParsedPackage package =
      read_package(source, static_cast<const uint8_t*>(bytes.ptr), static_cast<size_t>(bytes.size));
  const std::vector<int>& dims = package.header.shape;
  py::array_t<float> values(std::vector<py::ssize_t>(dims.begin(), dims.end()));
  float* out = values.mutable_data();
  {
    py::gil_scoped_release release;
    decode_payload(source, package, out);
  }
  return values;
}

py::object quantizer_field(bool quantized, float value) {
  return quantized ? py::object(py::float_(value)) : py::object(py::none());
}

py::dict inspect(const py::buffer& buffer, const std::string& source) {
  const py::buffer_info bytes = package_bytes(buffer);
  const ParsedPackage package =
      read_package(source, static_cast<const uint8_t*>(bytes.ptr), static_cast<size_t>(bytes.size));
  const PackageHeader& header = package.header;
  const bool quantized = quantizes(header.kind);
  const double count = static_cast<double>(header.count);
  py::dict info;
  info["mode"] = codec_mode_name(header.kind, header.bits);
  info["version"] = kPackageVersion;
  info["shape"] = py::tuple(py::cast(header.shape));
  info["count"] = header.count;
  info["bits"] = quantized ? header.bits : (header.kind == CodecKind::kFp16 ? 16 : 32);
  info["entropy"] = quantizer_field(quantized, header.entropy);
  info["w_min"] = quantizer_field(quantized, header.w_min);
  info["w_max"] = quantizer_field(quantized, header.w_max);
  info["huffman_bits_per_param"] =
      header.count ? static_cast<double>(header.payload_bits) / count : 0.0;
  info["package_bits_per_param"] =
      header.count ? 8.0 * static_cast<double>(bytes.size) / count : 0.0;
  info["header_bytes"] = package.header_size;
  info["payload_bytes"] = package.payload_size;
  info["total_bytes"] = bytes.size;
  return info;
}

void bind_codec(py::module_& m) {
  m.def("codec_encode", &encode, py::arg("array"), py::arg("mode"), py::arg("c"), py::arg("M"),
        py::arg("F"), py::arg("ceiling"), py::arg("seed"), py::arg("name"),
        "Encode a float32 array into a weight package (use caffe.compression.encode).");
  m.def("codec_decode", &decode, py::arg("package"), py::arg("source"),
        "Decode a weight package into a float32 array (use caffe.compression.decode).");
  m.def("codec_inspect", &inspect, py::arg("package"), py::arg("source"),
        "A weight package's validated header as a dict (use caffe.compression.inspect).");
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindCodec, bind_codec);

}  // namespace caffe::python
