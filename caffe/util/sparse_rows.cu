#include <thrust/execution_policy.h>
#include <thrust/scan.h>

#include "caffe/util/device.cuh"
#include "caffe/util/sparse_rows.hpp"

CAFFE_FOR_EACH_GPU(caffe::CountRowNonzeros);
CAFFE_FOR_EACH_GPU(caffe::FillRowNonzeros);

namespace caffe {

long long scan_row_counts_gpu(int* offsets, int rows) {
  CUDA_CALL(cudaMemset(offsets, 0, sizeof(int)));
  thrust::inclusive_scan(thrust::device, offsets + 1, offsets + 1 + rows, offsets + 1);
  int total = 0;
  CUDA_CALL(cudaMemcpy(&total, offsets + rows, sizeof(int), cudaMemcpyDeviceToHost));
  return total;
}

}  // namespace caffe
