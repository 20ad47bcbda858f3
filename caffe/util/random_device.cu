#include "caffe/util/device_loop.cuh"
#include "caffe/util/random_device.cuh"

namespace caffe {

void gpu_uniform_fill(uint64_t key, int count, float* out) {
  launch_elementwise(count, [=] __device__(long long i) {
    out[i] = device_uniform_at(key, static_cast<uint64_t>(i));
  });
}

}  // namespace caffe
