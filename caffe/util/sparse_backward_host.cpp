// The host kernels of SparseConvBackward (see sparse_backward.hpp): channels-last copies of x
// and W, one vector multiply-add per kernel tap and non-zero, threads over balanced ranges.
#include <algorithm>
#include <numeric>

#include "caffe/core/common.hpp"
#include "caffe/util/parallel.hpp"
#include "caffe/util/sparse_backward.hpp"

// The two kernels are compiled for AVX-512 and AVX2 as well as the baseline, and the loader
// picks the best the CPU has (GCC's function multi-versioning): the build targets baseline
// x86-64, where the C/G-long multiply-adds would run 4 floats at a time.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CAFFE_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CAFFE_VECTOR_CLONES
#endif

namespace caffe {
namespace {

// dst[i] += a · src[i] for i < n: the inner loop of both products.
inline void multiply_add(int n, float a, const float* src, float* dst) {
  for (int i = 0; i < n; ++i) dst[i] += a * src[i];
}

// What the host kernels read: the shape, dy's (image, channel) rows, and the input origin of
// every output position's window.
struct HostView {
  SparseConvShape shape;
  const int* offsets;
  const int* positions;
  const float* values;
  const int* window_row;
  const int* window_col;

  long long image_size() const {
    return static_cast<long long>(shape.channels) * shape.height * shape.width;
  }

  // Calls fn(tap, offset) for the taps of position p's window inside the image, with the
  // channels-last offset (row · width + column) · channels of the input it reads.
  template <typename Fn>
  void for_each_tap(int p, const Fn& fn) const {
    const SparseConvShape& s = shape;
    for (int a = 0; a < s.kernel_h; ++a) {
      const int y = window_row[p] + a * s.dilation_h;
      if (y < 0 || y >= s.height) continue;
      for (int b = 0; b < s.kernel_w; ++b) {
        const int col = window_col[p] + b * s.dilation_w;
        if (col < 0 || col >= s.width) continue;
        fn(a * s.kernel_w + b, (static_cast<long long>(y) * s.width + col) * s.channels);
      }
    }
  }
};

// dW[o] += Σ_n Σ_(p, v) v · x[n, g, patch(p)] with dW[o] as [kh, kw, C/G] and x channels-last;
// returns Σ v (the bias gradient).
CAFFE_VECTOR_CLONES float channel_weight_gradient(const HostView& view, const float* x_nhwc,
                                                  int o, float* dweight) {
  const SparseConvShape& s = view.shape;
  const int group_channels = s.group_channels();
  const int group_offset = o / s.group_outputs() * group_channels;
  float bias = 0.0f;
  for (int n = 0; n < s.batch; ++n) {
    const float* image = x_nhwc + n * view.image_size() + group_offset;
    const int row = n * s.outputs + o;
    for (int e = view.offsets[row]; e < view.offsets[row + 1]; ++e) {
      const float value = view.values[e];
      bias += value;
      view.for_each_tap(view.positions[e], [&](int tap, long long offset) {
        multiply_add(group_channels, value, image + offset, dweight + tap * group_channels);
      });
    }
  }
  return bias;
}

// dx[n] += Σ_o Σ_(p, v) v · W[o] over patch(p), with dx[n] channels-last and W as
// [O, kh, kw, C/G].
CAFFE_VECTOR_CLONES void image_input_gradient(const HostView& view, const float* weights_ohwc,
                                              int n, float* dx_image) {
  const SparseConvShape& s = view.shape;
  const int group_channels = s.group_channels();
  for (int o = 0; o < s.outputs; ++o) {
    const float* filter = weights_ohwc + static_cast<long long>(o) * s.filter_size();
    float* image = dx_image + o / s.group_outputs() * group_channels;
    const int row = n * s.outputs + o;
    for (int e = view.offsets[row]; e < view.offsets[row + 1]; ++e) {
      const float value = view.values[e];
      view.for_each_tap(view.positions[e], [&](int tap, long long offset) {
        multiply_add(group_channels, value, filter + tap * group_channels, image + offset);
      });
    }
  }
}

constexpr int kTransposeTile = 32;

// Rows [r0, r1) of dst [cols, rows] (+)= src [rows, cols]ᵀ, in tiles that stay in the cache.
void transpose_rows(int rows, int cols, int r0, int r1, const float* src, float* dst, bool add) {
  for (int c0 = 0; c0 < cols; c0 += kTransposeTile) {
    const int c1 = std::min(cols, c0 + kTransposeTile);
    for (int c = c0; c < c1; ++c) {
      float* out = dst + static_cast<long long>(c) * rows;
      for (int r = r0; r < r1; ++r) {
        const float value = src[static_cast<long long>(r) * cols + c];
        out[r] = add ? out[r] + value : value;
      }
    }
  }
}

void transpose_block(int rows, int cols, const float* src, float* dst, bool add) {
  for (int r0 = 0; r0 < rows; r0 += kTransposeTile) {
    transpose_rows(rows, cols, r0, std::min(rows, r0 + kTransposeTile), src, dst, add);
  }
}

// transpose_block on `blocks` consecutive [rows, cols] matrices, on all threads (split into
// tiles of rows, so one large matrix is shared too).
void transpose_blocks(int blocks, int rows, int cols, const float* src, float* dst, bool add) {
  const long long size = static_cast<long long>(rows) * cols;
  const int tiles = (rows + kTransposeTile - 1) / kTransposeTile;
  const long long tile_size = static_cast<long long>(kTransposeTile) * cols;
  parallel_for(static_cast<long long>(blocks) * tiles,
               std::max(1LL, kElementwiseMinChunk / std::max(1LL, tile_size)),
               [&](long long begin, long long end) {
                 for (long long i = begin; i < end; ++i) {
                   const long long block = i / tiles;
                   const int r0 = static_cast<int>(i % tiles) * kTransposeTile;
                   transpose_rows(rows, cols, r0, std::min(rows, r0 + kTransposeTile),
                                  src + block * size, dst + block * size, add);
                 }
               });
}

// Splits items [0, costs.size()) into at most `parts` contiguous ranges of about equal cost;
// returns the boundaries (first 0, last the item count).
std::vector<int> balanced_ranges(const std::vector<double>& costs, int parts) {
  const int items = static_cast<int>(costs.size());
  parts = std::max(1, std::min(parts, items));
  const double total = std::accumulate(costs.begin(), costs.end(), 0.0);
  std::vector<int> bounds{0};
  double reached = 0.0;
  for (int i = 0; i < items && static_cast<int>(bounds.size()) < parts; ++i) {
    reached += costs[i];
    if (reached >= total * bounds.size() / parts) bounds.push_back(i + 1);
  }
  bounds.push_back(items);
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

// Runs fn(begin, end) over the ranges of balanced_ranges(costs, threads), one thread each.
void run_balanced(const std::vector<double>& costs, const std::function<void(int, int)>& fn) {
  const std::vector<int> bounds = balanced_ranges(costs, blas_threads());
  parallel_parts(static_cast<int>(bounds.size()) - 1,
                 [&](int part) { fn(bounds[part], bounds[part + 1]); });
}

}  // namespace

void SparseConvBackward::BackwardOnHost(const float* x, const float* weights, float* dx,
                                        float* dweights, float* dbias) {
  const SparseConvShape& s = shape_;
  const HostView view{s,
                      channel_rows_.offsets(Mode::CPU),
                      channel_rows_.indices(Mode::CPU),
                      channel_rows_.values(Mode::CPU),
                      window_row_.data(),
                      window_col_.data()};
  const int filter = s.filter_size();
  const bool channels_last_input = s.height * s.width == 1;  // x [N, C, 1, 1] is NHWC already
  // W as [O, kh, kw, C/G] is the stored order for 1x1 kernels; else a copy (blocks × rows × cols
  // transposed per block).
  const bool weights_in_kernel_order = s.taps() == 1 && !s.input_major_weights;
  const int weight_blocks = s.input_major_weights ? 1 : s.outputs;
  const int weight_rows = s.input_major_weights ? s.channels : s.group_channels();
  const int weight_cols = s.input_major_weights ? s.outputs : s.taps();

  if (dweights || dbias) {
    const float* x_nhwc = x;
    if (dweights && !channels_last_input) {
      x_nhwc_.resize(s.batch * view.image_size());
      transpose_blocks(s.batch, s.channels, s.height * s.width, x, x_nhwc_.data(), false);
      x_nhwc = x_nhwc_.data();
    }
    float* gradient = dweights;
    if (dweights && !weights_in_kernel_order) {
      dweights_ohwc_.resize(static_cast<size_t>(s.outputs) * filter);
      gradient = dweights_ohwc_.data();
    }
    std::vector<double> costs(s.outputs, filter);
    const int* offsets = view.offsets;
    for (int n = 0; n < s.batch; ++n) {
      for (int o = 0; o < s.outputs; ++o) {
        const int row = n * s.outputs + o;
        costs[o] += static_cast<double>(offsets[row + 1] - offsets[row]) * filter;
      }
    }
    run_balanced(costs, [&](int begin, int end) {
      for (int o = begin; o < end; ++o) {
        float* channel_gradient = nullptr;
        if (gradient) {
          channel_gradient = gradient + static_cast<long long>(o) * filter;
          if (gradient != dweights) std::fill(channel_gradient, channel_gradient + filter, 0.0f);
        }
        float bias = 0.0f;
        if (channel_gradient) {
          bias = channel_weight_gradient(view, x_nhwc, o, channel_gradient);
        } else {
          for (int n = 0; n < s.batch; ++n) {
            const int row = n * s.outputs + o;
            for (int e = offsets[row]; e < offsets[row + 1]; ++e) bias += view.values[e];
          }
        }
        if (dbias) dbias[o] += bias;
      }
    });
    if (dweights && gradient != dweights) {
      transpose_blocks(weight_blocks, weight_cols, weight_rows, gradient, dweights, true);
    }
  }

  if (dx) {
    const float* weights_ohwc = weights;
    if (!weights_in_kernel_order) {
      weights_ohwc_.resize(static_cast<size_t>(s.outputs) * filter);
      transpose_blocks(weight_blocks, weight_rows, weight_cols, weights, weights_ohwc_.data(),
                       false);
      weights_ohwc = weights_ohwc_.data();
    }
    if (!channels_last_input) dx_nhwc_.resize(s.batch * view.image_size());
    std::vector<double> costs(s.batch, static_cast<double>(view.image_size()));
    for (int n = 0; n < s.batch; ++n) {
      const int* row_offsets = view.offsets + n * s.outputs;
      costs[n] += static_cast<double>(row_offsets[s.outputs] - row_offsets[0]) * filter;
    }
    run_balanced(costs, [&](int begin, int end) {
      for (int n = begin; n < end; ++n) {
        float* image = (channels_last_input ? dx : dx_nhwc_.data()) + n * view.image_size();
        std::fill(image, image + view.image_size(), 0.0f);
        image_input_gradient(view, weights_ohwc, n, image);
        if (!channels_last_input) {
          transpose_block(s.height * s.width, s.channels, image, dx + n * view.image_size(),
                          false);
        }
      }
    });
  }
}

}  // namespace caffe
