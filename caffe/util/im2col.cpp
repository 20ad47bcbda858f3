#include "caffe/util/im2col.hpp"

namespace caffe {

void im2col(Mode mode, const Im2colShape& shape, const float* image, float* col) {
  const int rows = shape.channels * shape.height.kernel * shape.width.kernel * shape.out_h;
  for_each(mode, rows, shape.out_w, Im2colRow{shape, image, col});
}

void col2im(Mode mode, const Im2colShape& shape, const float* col, float* image) {
  // Each position loops over the kernel: a compute-bound pass, split early.
  for_each(mode, shape.channels * shape.in_h, shape.in_w, Col2imPixel{shape, col, image},
           kComputeMinChunk);
}

}  // namespace caffe
