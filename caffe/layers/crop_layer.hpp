#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// Where each element of the cropped block lies in bottom 0: top element i, at coordinates
// (c_0, ..., c_{k−1}) in the top's shape, is bottom element start + Σ c_d · stride_d.
struct CropIndexing {
  static constexpr int kMaxAxes = 32;
  int axes = 0;
  int top_shape[kMaxAxes] = {};
  long long bottom_strides[kMaxAxes] = {};
  long long start = 0;  // the bottom index of the block's first element

  CAFFE_HOST_DEVICE long long bottom_index(long long i) const {
    long long index = start;
    for (int d = axes - 1; d >= 0; --d) {
      index += (i % top_shape[d]) * bottom_strides[d];
      i /= top_shape[d];
    }
    return index;
  }
};

// Crop: y = the block of bottom 0 with bottom 1's shape on the axes from crop_param.axis on
// (bottom 0's sizes before it), starting at offset o_d on each cropped axis d:
// y[i] = x[i + o] (o = 0 on the uncropped axes).  Offsets: none → 0, one → the same for every
// cropped axis, else one per cropped axis.  Backward: dx = dy scattered back to the block, 0
// elsewhere; bottom 1 only gives a shape (its gradient is 0).
class CropLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Crop"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }
  bool AllowForceBackward(int bottom_index) const override { return bottom_index == 0; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif

 private:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);
  std::vector<long long> Offsets(const Blob& x, const Blob& reference, int axis) const;

  CropIndexing block_;  // the cropped block, for the current shapes
};

struct CropGather {
  CropIndexing block;
  const float* x;
  float* y;
  CAFFE_HOST_DEVICE void operator()(long long i) const { y[i] = x[block.bottom_index(i)]; }
};

// Each top element has its own bottom element, so the scatter has no collisions.
struct CropScatter {
  CropIndexing block;
  const float* dy;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(long long i) const { dx[block.bottom_index(i)] = dy[i]; }
};

}  // namespace caffe
