#pragma once

#include <cfloat>
#include <memory>
#include <optional>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/core/synced_memory.hpp"
#include "caffe/util/device.hpp"
#include "caffe/util/engine.hpp"

namespace caffe {

class DnnlPooling;
class CudnnPooling;

// The shapes of one pooling: num x channels planes of height x width, pooled with a
// kernel_h x kernel_w window moved by stride_h / stride_w over the input padded by pad_h / pad_w
// on each side, giving pooled_height x pooled_width outputs per plane.
struct PoolingGeometry {
  int num = 0, channels = 0, height = 0, width = 0;
  int pooled_height = 0, pooled_width = 0;
  int kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;

  CAFFE_HOST_DEVICE int planes() const { return num * channels; }
  bool operator==(const PoolingGeometry& other) const;
  bool operator!=(const PoolingGeometry& other) const { return !(*this == other); }
};

// Pooling (type "Pooling", pooling_param), BVLC Caffe's semantics on 4-D NCHW blobs.  Output
// position o along an axis pools the window starting at o·stride − pad, kernel long:
//   MAX: y = the largest input inside the image (padding never wins), mask = its index h·W + w
//        in the plane (the first one in row-major order on ties); dL/dx goes to that input.
//   AVE: y = (sum of the inputs inside the image) / |window ∩ [−pad, in + pad)|: padding counts
//        in the divisor, the ceil overhang beyond it does not; dL/dx spreads evenly back.
// Outputs per axis: ceil((in + 2·pad − kernel) / stride) + 1 (floor with round_mode FLOOR), one
// fewer when padding is set and the last window would start at or beyond in + pad.
// global_pooling pools whole planes.  The optional second top (MAX only) is the mask, as float.
// Engines (util/engine.hpp): CAFFE is the functors below on either device; the libraries
// (oneDNN, cuDNN) run where they reproduce these results, see pooling_dnnl / pooling_cudnn.
class PoolingLayer : public Layer {
 public:
  explicit PoolingLayer(const LayerParameter& param);
  ~PoolingLayer() override;
  const char* type() const override { return "Pooling"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return method_ == PoolingParameter::MAX ? 2 : 1; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  const PoolingGeometry& geometry() const { return geometry_; }
  // The implementation that runs in `mode`, as chosen by the last Reshape in that mode.
  Backend backend(Mode mode) const { return backends_[mode == Mode::GPU]; }

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
  void ReadKernel();
  void ReadPadAndStride();
  PoolingGeometry GeometryFor(const Blob& bottom) const;
  Backend ChooseBackend(Mode mode, int tops) const;
  void PrepareLibrary(Backend backend);
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom);
  int* argmax_on(Mode mode);

  PoolingParameter::PoolMethod method_;
  bool global_ = false;
  bool ceil_ = true;
  PoolingGeometry geometry_;  // kernel, stride and pad from LayerSetUp, sizes from Reshape
  Backend backends_[2] = {Backend::kCaffe, Backend::kCaffe};  // [CPU, GPU]
  // The backend of the last forward pass over the current geometry: backward runs on the same
  // (MAX needs its argmax, our mask or oneDNN's workspace; a library needs its current shapes).
  std::optional<Backend> forward_backend_;
  std::unique_ptr<SyncedMemory> argmax_;  // MAX: the mask as int, one per output
#ifdef CAFFE_USE_DNNL
  std::unique_ptr<DnnlPooling> dnnl_;
#endif
#ifdef CAFFE_USE_CUDNN
  std::unique_ptr<CudnnPooling> cudnn_;
#endif
};

// ----- the CAFFE engine: one formula per pass, for the host and the device -----

CAFFE_HOST_DEVICE inline int min_of(int a, int b) { return a < b ? a : b; }
CAFFE_HOST_DEVICE inline int max_of(int a, int b) { return a > b ? a : b; }

// One output's window along one axis: [begin, end) is its part inside the input, and
// padded_length its length clipped to the padded input [−pad, in + pad) (AVE's divisor factor).
struct PoolSpan {
  int begin, end, padded_length;
};
CAFFE_HOST_DEVICE inline PoolSpan pool_span(int out, int kernel, int stride, int pad, int in) {
  const int start = out * stride - pad;
  const int padded_end = min_of(start + kernel, in + pad);
  return {max_of(start, 0), min_of(padded_end, in), padded_end - start};
}

// The outputs [first, last) whose windows contain input position `at` along one axis.
struct OutputRange {
  int first, last;
};
CAFFE_HOST_DEVICE inline OutputRange outputs_covering(int at, int kernel, int stride, int pad,
                                                      int pooled) {
  const int shifted = at + pad;  // position in the padded input, >= 0
  const int first = shifted < kernel ? 0 : (shifted - kernel) / stride + 1;
  return {first, min_of(shifted / stride + 1, pooled)};
}

// The functors run over grids: forward over (plane · pooled_height + ph, pw), backward on the
// device over (plane · height + h, w), gathering from the outputs whose windows hold the input,
// so each thread writes its own element and needs no atomics.  The host's backward scatters
// plane by plane instead (PoolScatter in pooling_layer.cpp): the same sums, without the
// divisions that finding the covering outputs costs per input (measured 4-6x faster).
struct MaxPoolForward {
  PoolingGeometry g;
  const float* in;
  float* out;
  int* argmax;
  CAFFE_HOST_DEVICE void operator()(int row, int pw) const {
    const int plane = row / g.pooled_height;
    const int ph = row - plane * g.pooled_height;
    const PoolSpan rows = pool_span(ph, g.kernel_h, g.stride_h, g.pad_h, g.height);
    const PoolSpan cols = pool_span(pw, g.kernel_w, g.stride_w, g.pad_w, g.width);
    const float* x = in + static_cast<long long>(plane) * g.height * g.width;
    float best = -FLT_MAX;
    int best_index = -1;  // stays -1 only for a window wholly in the padding
    for (int h = rows.begin; h < rows.end; ++h) {
      for (int w = cols.begin; w < cols.end; ++w) {
        // Selects rather than branches: which input wins is data, and mispredicted branches
        // cost more than the selects.
        const int index = h * g.width + w;
        const bool better = x[index] > best;
        best_index = better ? index : best_index;
        best = better ? x[index] : best;
      }
    }
    const long long o = static_cast<long long>(row) * g.pooled_width + pw;
    out[o] = best;
    argmax[o] = best_index;
  }
};

struct MaxPoolBackward {
  PoolingGeometry g;
  const float* top_diff;
  const int* argmax;
  float* bottom_diff;
  CAFFE_HOST_DEVICE void operator()(int row, int w) const {
    const int plane = row / g.height;
    const int h = row - plane * g.height;
    const OutputRange phs = outputs_covering(h, g.kernel_h, g.stride_h, g.pad_h, g.pooled_height);
    const OutputRange pws = outputs_covering(w, g.kernel_w, g.stride_w, g.pad_w, g.pooled_width);
    const long long top_plane = static_cast<long long>(plane) * g.pooled_height * g.pooled_width;
    const int index = h * g.width + w;
    float sum = 0.0f;
    for (int ph = phs.first; ph < phs.last; ++ph) {
      for (int pw = pws.first; pw < pws.last; ++pw) {
        const long long o = top_plane + ph * g.pooled_width + pw;
        if (argmax[o] == index) sum += top_diff[o];
      }
    }
    bottom_diff[static_cast<long long>(row) * g.width + w] = sum;
  }
};

// AVE's divisor for one output; 0 for a window that holds no input (its output is 0).
CAFFE_HOST_DEVICE inline int ave_divisor(const PoolSpan& rows, const PoolSpan& cols) {
  return rows.begin < rows.end && cols.begin < cols.end ? rows.padded_length * cols.padded_length
                                                        : 0;
}

struct AvePoolForward {
  PoolingGeometry g;
  const float* in;
  float* out;
  CAFFE_HOST_DEVICE void operator()(int row, int pw) const {
    const int plane = row / g.pooled_height;
    const int ph = row - plane * g.pooled_height;
    const PoolSpan rows = pool_span(ph, g.kernel_h, g.stride_h, g.pad_h, g.height);
    const PoolSpan cols = pool_span(pw, g.kernel_w, g.stride_w, g.pad_w, g.width);
    const float* x = in + static_cast<long long>(plane) * g.height * g.width;
    float sum = 0.0f;
    for (int h = rows.begin; h < rows.end; ++h) {
      for (int w = cols.begin; w < cols.end; ++w) sum += x[h * g.width + w];
    }
    const int divisor = ave_divisor(rows, cols);
    out[static_cast<long long>(row) * g.pooled_width + pw] = divisor > 0 ? sum / divisor : 0.0f;
  }
};

struct AvePoolBackward {
  PoolingGeometry g;
  const float* top_diff;
  float* bottom_diff;
  CAFFE_HOST_DEVICE void operator()(int row, int w) const {
    const int plane = row / g.height;
    const int h = row - plane * g.height;
    const OutputRange phs = outputs_covering(h, g.kernel_h, g.stride_h, g.pad_h, g.pooled_height);
    const OutputRange pws = outputs_covering(w, g.kernel_w, g.stride_w, g.pad_w, g.pooled_width);
    const float* dy = top_diff + static_cast<long long>(plane) * g.pooled_height * g.pooled_width;
    float sum = 0.0f;
    for (int ph = phs.first; ph < phs.last; ++ph) {
      const PoolSpan rows = pool_span(ph, g.kernel_h, g.stride_h, g.pad_h, g.height);
      for (int pw = pws.first; pw < pws.last; ++pw) {
        const PoolSpan cols = pool_span(pw, g.kernel_w, g.stride_w, g.pad_w, g.width);
        // Any window covering this input holds it, so its divisor is positive.
        sum += dy[ph * g.pooled_width + pw] / ave_divisor(rows, cols);
      }
    }
    bottom_diff[static_cast<long long>(row) * g.width + w] = sum;
  }
};

// The mask top: the argmax indices as float (exact while a plane has at most 2^24 inputs).
struct MaskAsFloat {
  const int* argmax;
  float* mask;
  CAFFE_HOST_DEVICE void operator()(long long i) const { mask[i] = static_cast<float>(argmax[i]); }
};

}  // namespace caffe
