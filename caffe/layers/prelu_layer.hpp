#pragma once

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// PReLU (He et al.): y = max(0, x) + a_c · min(0, x) with a learnable slope a_c per channel
// (axis 1), or one slope for all with prelu_param.channel_shared.
//   dL/dx = dL/dy · (x > 0 ? 1 : a_c);   dL/da_c = Σ over examples and positions of channel c of
//   dL/dy · min(0, x).
// The slopes are blob 0: shape (C), or a scalar (no axes) when shared, as BVLC stores them;
// filled by prelu_param.filler, constant 0.25 by default.  In place, the input is copied before
// it is overwritten, since neither gradient can be recovered from y when a slope is negative.
class PReLULayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "PReLU"; }
  bool PreservesZeros() const override { return true; }  // a · min(0, 0) = 0
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  // The input gradient.
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;
  // The slopes' gradient first (in place, the input gradient overwrites the top's), then the
  // input's.
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    BackwardSlopes(Mode::CPU, top, bottom);
    NeuronLayer::Backward_cpu(top, propagate_down, bottom);
  }
#ifdef CAFFE_USE_CUDA
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    BackwardSlopes(Mode::GPU, top, bottom);
    NeuronLayer::Backward_gpu(top, propagate_down, bottom);
  }
#endif

 private:
  // Accumulates dL/da into the slopes' diff (when param_propagate_down(0)).
  void BackwardSlopes(Mode mode, const BlobVec& top, const BlobVec& bottom);
  // The layer's input x on `mode`: the bottom, or the copy taken in Forward when in place.
  const float* input_on(Mode mode, const BlobVec& top, const BlobVec& bottom) const;

  bool channel_shared_ = false;
  int slope_count_ = 1;  // C, or 1 when shared
  int inner_ = 1;        // consecutive values that share a slope: count / (N · slope_count_)
  Blob input_copy_;      // x, when in place
  Blob slope_terms_;     // per value: dL/dy · min(0, x)
  Blob per_example_;     // slope_terms_ summed per (example, slope)
  Blob ones_;            // max(inner_, N) ones, for the sums as matrix-vector products
};

// The slope of value i of a blob laid out [N, slope_count, inner].
struct ChannelSlopes {
  const float* slopes;
  int inner;
  int count;
  CAFFE_HOST_DEVICE float at(long long i) const { return slopes[(i / inner) % count]; }
};

struct PReLUForward {
  const float* x;
  float* y;
  ChannelSlopes slopes;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float value = x[i];
    y[i] = value > 0 ? value : slopes.at(i) * value;
  }
};

struct PReLUBackward {
  const float* x;
  const float* dy;
  float* dx;
  ChannelSlopes slopes;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    dx[i] = x[i] > 0 ? dy[i] : slopes.at(i) * dy[i];
  }
};

struct PReLUSlopeTerms {
  const float* x;
  const float* dy;
  float* terms;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    terms[i] = x[i] > 0 ? 0.0f : dy[i] * x[i];
  }
};

}  // namespace caffe
