// What Convolution and Deconvolution share: reading convolution_param, the learnable blobs and
// their checks, the top shapes, one engine per device (engine CAFFE, oneDNN on the CPU, cuDNN on
// the GPU; caffe/layers/conv_engine.hpp) and the loop over (bottom, top) pairs, which all share
// the weights and must have one shape.  The subclasses say which side of the convolution their
// bottom is and run the passes.
#pragma once

#include <memory>

#include "caffe/core/layer.hpp"
#include "caffe/layers/conv_engine.hpp"
#include "caffe/util/conv_geometry.hpp"

namespace caffe {

class BaseConvolutionLayer : public Layer {
 public:
  using Layer::Layer;
  int MinBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }
  bool EqualNumBottomTopBlobs() const override { return true; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  // The engine this layer runs on `mode`'s device (its engine field resolved for the build).
  Backend backend(Mode mode) const;

 protected:
  // The convolution for `num` bottom images of channels × height × width.
  virtual ConvGeometry GeometryFor(int num, int channels, int height, int width) const = 0;
  // The top's channels, height and width: one side of the geometry.
  virtual std::vector<int> TopImageShape(const ConvGeometry& geometry) const = 0;
  // One (bottom, top) pair through `engine`, on `mode`'s device.  BackwardPair's outputs may be
  // null (not wanted); dweights and dbias accumulate, dx is overwritten.
  virtual void ForwardPair(Mode mode, ConvEngine& engine, const float* x, const float* weights,
                           const float* bias, float* y) = 0;
  virtual void BackwardPair(Mode mode, ConvEngine& engine, const float* x, const float* dy,
                            const float* weights, float* dx, float* dweights, float* dbias) = 0;

  const ConvSpec& spec() const { return spec_; }

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
  ConvGeometry GeometryOf(const Blob& bottom) const;
  void CheckLoadedBlobs() const;
  // The engine of `mode`'s device, built on first use and configured for geometry_.
  ConvEngine& EngineFor(Mode mode);

  ConvSpec spec_;
  int channel_axis_ = 1;
  int channels_ = 0;                        // of the bottom, fixed by the weights
  ConvGeometry geometry_;                   // for the current bottom shape
  std::unique_ptr<ConvEngine> engines_[2];  // per Mode
};

}  // namespace caffe
