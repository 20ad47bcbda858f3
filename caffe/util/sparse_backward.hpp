// The backward pass of a convolution from a sparse top gradient dy, in work proportional to its
// non-zeros: for each non-zero dy[n, o, s] (image n, output channel o in group g, output
// position s whose window is the input patch P(s) of the group's C/G channels),
//   weight gradient (WGC)  dW[o] += dy[n, o, s] · x[n, g, P(s)]     (+ db[o] += dy[n, o, s])
//   input gradient (AGB)   dx[n, g, P(s)] += dy[n, o, s] · W[o]
// K = C/G · kh · kw multiply-adds each, with no im2col matrix.  A fully connected product is
// the 1x1 case (InnerProduct: N = its rows, C = its inputs, O = its outputs, 1x1 images).
//
// Kernels.  dy is compressed twice: by (image, output channel) rows, whose entries are output
// positions, and (when dx is wanted) by (image, group, output position) rows, whose entries are
// the group's output channels.  Both products are then gathers with no atomics: each output
// element is summed in one fixed order, whatever the thread count.  The host copies x, dx and W
// into channel-blocked layouts once per call, where a kernel tap of a patch is a contiguous run
// of channels, and accumulates blocks of up to 64 output floats in vector registers over the
// non-zeros that feed them (sparse_backward_host.cpp; WGC split over output channels, AGB over
// images, in ranges of about equal non-zeros).  The device runs element-wise functors
// (caffe/util/device.hpp), one thread per dW element over its channel's rows and one per dx
// element over the position rows of the outputs that read it; the host can run them too, which
// is how the tests check them without a GPU.
// No sparse library: a library product (Debian's librsb Sparse BLAS or SuiteSparse:GraphBLAS on
// the host, cuSPARSE's SpMM on the device) multiplies a sparse matrix by a dense matrix, and here
// the dense operand is x read through the convolution's windows: it would have to be written out
// as an im2col matrix first, whose cost (K · S floats per image, read and written) is of the order
// of what the sparse product saves; librsb would also rebuild its matrix format from dy every
// call and add a build dependency.  The gathers above read the windows in place.
//
// Where the sparse path pays: SparseConvBackward::Prepare measures dy's density (a counting pass
// over a seventh of its rows, then, unless that is clearly too dense, over all of them) and
// compares it with sparse_backward_crossover, measured on the host (see there).
#pragma once

#include <vector>

#include "caffe/util/conv_geometry.hpp"
#include "caffe/util/sparse_rows.hpp"

namespace caffe {

// Whether layers may use the sparse backward: kAuto by the measured crossover, kNever (the dense
// path always: CAFFE_NO_SPARSE_BACKWARD set to a value other than "" or "0" when first read),
// kAlways (whatever the density: for tests and benchmarks).
enum class SparseBackwardPolicy { kAuto, kNever, kAlways };
SparseBackwardPolicy sparse_backward_policy();
void set_sparse_backward_policy(SparseBackwardPolicy policy);

// How the weights are stored: kConvolution is [O, C/G, kh, kw]; kInputMajor is [C, O] (the
// transposed InnerProduct; 1x1 kernel and one group only).
enum class WeightOrder { kConvolution, kInputMajor };

// The density of dy (non-zeros / elements) below which the sparse path is faster than the
// layer's dense engine on `mode`'s device, for a convolution of geometry `g` that computes the
// weight gradient and, when `wants_dx`, the input gradient; 0 where it never pays.
double sparse_backward_crossover(Mode mode, const ConvGeometry& g, bool wants_dx);

// The convolution's shape as the kernels (host and device) read it.
struct SparseConvShape {
  int batch, channels, height, width;  // x: [batch, channels, height, width]
  int outputs, out_height, out_width;  // dy: [batch, outputs, out_height, out_width]
  int groups;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  bool input_major_weights;  // WeightOrder::kInputMajor

  CAFFE_HOST_DEVICE int group_channels() const { return channels / groups; }
  CAFFE_HOST_DEVICE int group_outputs() const { return outputs / groups; }
  CAFFE_HOST_DEVICE int taps() const { return kernel_h * kernel_w; }
  CAFFE_HOST_DEVICE int out_spatial() const { return out_height * out_width; }
  // Entries of one output channel's weights: K = C/G · kh · kw.
  CAFFE_HOST_DEVICE int filter_size() const { return group_channels() * taps(); }
  // Offset of W[o, c, a, b] (c within the group) in the stored order.
  CAFFE_HOST_DEVICE long long weight_index(int o, int c, int a, int b) const {
    if (input_major_weights) return static_cast<long long>(c) * outputs + o;
    return ((static_cast<long long>(o) * group_channels() + c) * kernel_h + a) * kernel_w + b;
  }
};

SparseConvShape sparse_conv_shape(const ConvGeometry& g, WeightOrder order);

// A fully connected product Y [rows, outputs] = X [rows, inputs] Wᵀ as a 1x1 convolution of
// `rows` images of inputs × 1 × 1.
ConvGeometry fully_connected_geometry(int rows, int inputs, int outputs);

// ----- the device kernels (element-wise functors over the compressed dy) -----

// dW[o, c, a, b] += Σ_n Σ_{non-zeros (s, v) of row (n, o)} v · x[n, g·C/G + c, window(s, a, b)];
// element i = o · K + (c · kh + a) · kw + b.  Rows: SparseConvBackward::ChannelRows.
struct SparseWeightGradient {
  SparseConvShape shape;
  const int* offsets;
  const int* positions;
  const float* values;
  const float* x;
  float* dweights;
  CAFFE_HOST_DEVICE inline void operator()(long long i) const;
};

// db[o] += Σ of the values of rows (n, o) over n.
struct SparseBiasGradient {
  SparseConvShape shape;
  const int* offsets;
  const float* values;
  float* dbias;
  CAFFE_HOST_DEVICE inline void operator()(long long o) const;
};

// dx[n, ch, y, x] = Σ over the taps (a, b) whose output position s reads (y, x) and the
// non-zeros (o', v) of row (n, g, s) of v · W[g·O/G + o', ch − g·C/G, a, b] (overwritten).
// Rows: SparseConvBackward::PositionRows.
struct SparseInputGradient {
  SparseConvShape shape;
  const int* offsets;
  const int* channels;
  const float* values;
  const float* weights;
  float* dx;
  CAFFE_HOST_DEVICE inline void operator()(long long i) const;
};

CAFFE_HOST_DEVICE inline void SparseWeightGradient::operator()(long long i) const {
  const SparseConvShape& s = shape;
  const int filter = s.filter_size();
  const int o = static_cast<int>(i / filter);
  const int k = static_cast<int>(i % filter);
  const int c = k / s.taps(), a = k % s.taps() / s.kernel_w, b = k % s.kernel_w;
  const int g = o / s.group_outputs();
  const long long plane = static_cast<long long>(s.height) * s.width;
  float sum = 0.0f;
  for (int n = 0; n < s.batch; ++n) {
    const float* x_plane =
        x + (static_cast<long long>(n) * s.channels + g * s.group_channels() + c) * plane;
    const int row = n * s.outputs + o;
    for (int e = offsets[row]; e < offsets[row + 1]; ++e) {
      const int y = positions[e] / s.out_width * s.stride_h - s.pad_h + a * s.dilation_h;
      const int col = positions[e] % s.out_width * s.stride_w - s.pad_w + b * s.dilation_w;
      if (y >= 0 && y < s.height && col >= 0 && col < s.width) {
        sum += values[e] * x_plane[y * s.width + col];
      }
    }
  }
  dweights[s.weight_index(o, c, a, b)] += sum;
}

CAFFE_HOST_DEVICE inline void SparseBiasGradient::operator()(long long o) const {
  float sum = 0.0f;
  for (int n = 0; n < shape.batch; ++n) {
    const long long row = static_cast<long long>(n) * shape.outputs + o;
    for (int e = offsets[row]; e < offsets[row + 1]; ++e) sum += values[e];
  }
  dbias[o] += sum;
}

CAFFE_HOST_DEVICE inline void SparseInputGradient::operator()(long long i) const {
  const SparseConvShape& s = shape;
  const int col = static_cast<int>(i % s.width);
  const int y = static_cast<int>(i / s.width % s.height);
  const int channel =
      static_cast<int>(i / (static_cast<long long>(s.width) * s.height) % s.channels);
  const int n = static_cast<int>(i / (static_cast<long long>(s.width) * s.height * s.channels));
  const int g = channel / s.group_channels(), c = channel % s.group_channels();
  float sum = 0.0f;
  for (int a = 0; a < s.kernel_h; ++a) {
    // The output row whose window reads input row y at tap a, if any.
    const int row_span = y + s.pad_h - a * s.dilation_h;
    if (row_span < 0 || row_span % s.stride_h != 0 || row_span / s.stride_h >= s.out_height) {
      continue;
    }
    for (int b = 0; b < s.kernel_w; ++b) {
      const int col_span = col + s.pad_w - b * s.dilation_w;
      if (col_span < 0 || col_span % s.stride_w != 0 || col_span / s.stride_w >= s.out_width) {
        continue;
      }
      const int position = row_span / s.stride_h * s.out_width + col_span / s.stride_w;
      const int row = (n * s.groups + g) * s.out_spatial() + position;
      for (int e = offsets[row]; e < offsets[row + 1]; ++e) {
        sum += values[e] * weights[s.weight_index(g * s.group_outputs() + channels[e], c, a, b)];
      }
    }
  }
  dx[i] = sum;
}

// ----- the pass -----

class SparseConvBackward {
 public:
  enum class Kernels { kForMode, kDevice };

  // Sets the convolution (a comparison when it is the one already set).
  void Configure(const ConvGeometry& g, WeightOrder order);
  // Whether the sparse path runs for this dy (the policy, then dy's density against the
  // crossover); when it does, dy is compressed for Backward.  wants_dx: the input gradient will
  // be asked for.
  bool Prepare(Mode mode, const float* dy, bool wants_dx);
  // dy's density as the last Prepare measured it (1 when it did not count).
  double density() const { return density_; }
  // dx = the input gradient (overwritten), dweights += the weight gradient, dbias += Σ dy per
  // channel; any may be null.  Reads dy as the last Prepare that returned true compressed it.
  void Backward(Mode mode, const float* x, const float* weights, float* dx, float* dweights,
                float* dbias);
  // Which kernels run: the host's on the CPU and the device functors on the GPU (kForMode), or
  // the device functors on either (kDevice: tests check them on the host).
  void set_kernels(Kernels kernels) { kernels_ = kernels; }

 private:
  bool DeviceKernels(Mode mode) const { return mode == Mode::GPU || kernels_ == Kernels::kDevice; }
  // dy's (image, output channel) rows; entries are output positions.
  RowLayout ChannelRows() const;
  // dy's (image, group, output position) rows; entries are the group's output channels.
  RowLayout PositionRows() const;
  // Every kSampleStride-th of `rows` (a stride prime to common channel counts, so that the
  // sample mixes channels): Prepare's first look at dy's density.  When the sample's density is
  // above kSampleMargin times the crossover, dy is not counted in full.
  static constexpr int kSampleStride = 7;
  static constexpr double kSampleMargin = 1.5;
  static RowLayout SampledRows(const RowLayout& rows);
  void BackwardOnDevice(Mode mode, const float* x, const float* weights, float* dx, float* dweights,
                        float* dbias);
  void BackwardOnHost(const float* x, const float* weights, float* dx, float* dweights,
                      float* dbias);
  // The host kernels' tables of window positions (sparse_backward_host.cpp).
  void ComputeHostTables();
  // position_rows_ from channel_rows_ on the host (a counting sort, without reading dy again).
  void CompressByPositionOnHost();

  ConvGeometry geometry_;
  WeightOrder order_ = WeightOrder::kConvolution;
  SparseConvShape shape_{};
  bool configured_ = false;
  Kernels kernels_ = Kernels::kForMode;
  double density_ = 1.0;
  bool position_rows_ready_ = false;  // the last Prepare compressed dy by positions too
  SparseRows channel_rows_, position_rows_;
  // For the host kernels: the input row and column where each output position's window starts;
  // per input row (column) and tap row (column), the output row (column) that reads it there,
  // or -1.
  std::vector<int> window_row_, window_col_, output_row_, output_col_;
};

}  // namespace caffe
