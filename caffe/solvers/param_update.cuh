// Device side of run_update: one grid-stride kernel per parameter blob.
#pragma once

#include "caffe/solvers/param_update.hpp"
#include "caffe/util/device_loop.cuh"

namespace caffe {

template <typename Update>
void launch_update_gpu(long long count, const Update& update) {
  launch_elementwise(count, update);
}

}  // namespace caffe
