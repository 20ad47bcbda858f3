// Device instantiations of the strided copies (caffe/util/strided_blocks.hpp).
#include "caffe/util/device.cuh"
#include "caffe/util/strided_blocks.hpp"

CAFFE_FOR_EACH_GPU(caffe::GatherElement);
CAFFE_FOR_EACH_GPU(caffe::ScatterElement);
CAFFE_FOR_EACH_GPU(caffe::AddToColumnsElement);
CAFFE_FOR_EACH_GPU(caffe::ColumnSumElement);
