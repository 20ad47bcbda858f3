// Weight initialisation from a FillerParameter: constant, uniform, gaussian, xavier, msra,
// positive_unitball.  Random fillers draw from the process seed (caffe::random_seed) and a
// per-call stream, so a net built twice with the same seed starts from the same weights.
#pragma once

#include <cstdint>
#include <string>

#include "caffe/core/blob.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

// Fills blob's data.  `stream` distinguishes the blobs of one net: layers pass
// filler_stream(layer name, blob index), so each parameter has its own reproducible stream.
void fill_blob(const FillerParameter& param, Blob* blob, uint64_t stream);
uint64_t filler_stream(const std::string& layer_name, int blob_index);

}  // namespace caffe
