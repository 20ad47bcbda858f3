// The host kernels of SparseConvBackward (see sparse_backward.hpp).  Both products are gathers
// into blocks of up to 64 output floats held in vector registers while the non-zeros that feed
// them stream by, so each multiply-add costs one load (a scatter would load and store its output
// every time):
//   WGC  dW[o, tap, c-block] += Σ v · x[n, g, c-block, window(p) + tap] over the non-zeros (p, v)
//        of rows (n, o), images in passes small enough that their x stays cached;
//   AGB  dx[n, g, c-block, (y, x)] = Σ v · W[o, tap, c-block] over the taps that reach (y, x)
//        and the non-zeros (o, v) of the (image, group, position) row that tap reads; the
//        block's slice of W stays cached while the thread's images go by.
// x, dx and (for AGB) W are read in a channel-blocked layout: each block of a group's channels
// is stored as [positions, block width] (W: [tap, output channel, block width]) at the offset
// where the block starts in the plain layout, so a gather streams through adjacent memory.
// WGC is split over output channels and AGB over images, in ranges of about equal non-zeros.
#include <algorithm>
#include <numeric>

#include "caffe/core/common.hpp"
#include "caffe/util/parallel.hpp"
#include "caffe/util/sparse_backward.hpp"
#include "caffe/util/vector_clones.hpp"

// The kernels are compiled for AVX-512 and AVX2 as well as the baseline (CAFFE_VECTOR_CLONES): on
// the baseline a block would take 16 SSE registers.  Their helpers are forced inline.

namespace caffe {
namespace {

// ----- the register block -----

// Sixteen floats, loaded and stored without alignment (the GCC / Clang vector extension): one
// AVX-512 register, two AVX2 registers.
typedef float Lane __attribute__((vector_size(64), aligned(4), may_alias));
constexpr int kLaneWidth = 16;

// kLanes · 16 consecutive output floats, accumulated in registers.
template <int kLanes>
struct Block {
  Lane lane[kLanes];

  static constexpr int width() { return kLanes * kLaneWidth; }
  CAFFE_ALWAYS_INLINE void clear() {
    for (int i = 0; i < kLanes; ++i) lane[i] = Lane{};
  }
  CAFFE_ALWAYS_INLINE void load(const float* src) {
    for (int i = 0; i < kLanes; ++i) lane[i] = reinterpret_cast<const Lane*>(src)[i];
  }
  CAFFE_ALWAYS_INLINE void store(float* dst) const {
    for (int i = 0; i < kLanes; ++i) reinterpret_cast<Lane*>(dst)[i] = lane[i];
  }
  CAFFE_ALWAYS_INLINE void add(float value, const float* src) {
    for (int i = 0; i < kLanes; ++i) lane[i] += value * reinterpret_cast<const Lane*>(src)[i];
  }
};

// Fewer than 16 floats (the tail of a channel count that is not a multiple of 16).
struct TailBlock {
  int width_;
  float lane[kLaneWidth];

  int width() const { return width_; }
  CAFFE_ALWAYS_INLINE void clear() { std::fill(lane, lane + width_, 0.0f); }
  CAFFE_ALWAYS_INLINE void load(const float* src) { std::copy(src, src + width_, lane); }
  CAFFE_ALWAYS_INLINE void store(float* dst) const { std::copy(lane, lane + width_, dst); }
  CAFFE_ALWAYS_INLINE void add(float value, const float* src) {
    for (int i = 0; i < width_; ++i) lane[i] += value * src[i];
  }
};

// The width of the block that starts where `remaining` channels are left: 64 floats at a time,
// then 32 and 16, then the tail.
int block_width(int remaining) {
  for (int width : {64, 32, 16}) {
    if (remaining >= width) return width;
  }
  return remaining;
}

// Calls run(block, c0) for the blocks that cover channels [0, channels).
template <typename Run>
CAFFE_ALWAYS_INLINE void for_each_block(int channels, const Run& run) {
  for (int c0 = 0; c0 < channels; c0 += block_width(channels - c0)) {
    switch (block_width(channels - c0)) {
      case 64:
        run(Block<4>{}, c0);
        break;
      case 32:
        run(Block<2>{}, c0);
        break;
      case 16:
        run(Block<1>{}, c0);
        break;
      default:
        run(TailBlock{channels - c0, {}}, c0);
    }
  }
}

// ----- what the kernels read -----

struct HostView {
  SparseConvShape shape;
  const int* channel_offsets;  // dy's (image, channel) rows: entries are positions
  const int* positions;
  const float* channel_values;
  const int* position_offsets;  // dy's (image, group, position) rows: entries are channels
  const int* channels;
  const float* position_values;
  const int* window_row;  // per output position: the input row and column its window starts at
  const int* window_col;
  const int* output_row;  // per (input row, tap row): the output row that reads it, or -1
  const int* output_col;  // per (input column, tap column): likewise

  int plane() const { return shape.height * shape.width; }
  long long image_size() const { return static_cast<long long>(shape.channels) * plane(); }
};

// Calls fn(offset, width) for every block of every group of one image: the block's offset in
// the image (the same in the plain and the blocked layout) and its width.
template <typename Fn>
void for_each_image_block(const SparseConvShape& s, const Fn& fn) {
  const long long plane = static_cast<long long>(s.height) * s.width;
  for (int g = 0; g < s.groups; ++g) {
    for (int c0 = 0; c0 < s.group_channels(); c0 += block_width(s.group_channels() - c0)) {
      fn((g * s.group_channels() + c0) * plane, block_width(s.group_channels() - c0));
    }
  }
}

// A non-zero dy[n, o, p] of one output channel: image n's x at the channel group's first
// channel (blocked layout), where p's window starts, and its value.
struct WindowEntry {
  const float* group_x;
  int row, col;
  float value;
};

// ----- WGC -----

// dW[o, tap, block] += the block's sum over `entries` (all of output channel o).
struct WeightBlockPass {
  const HostView& view;
  const WindowEntry* entries;
  int count;
  float* dweight;  // output channel o's gradient, [kh, kw, C/G]

  template <typename Block>
  CAFFE_ALWAYS_INLINE void operator()(Block block, int c0) const {
    const SparseConvShape& s = view.shape;
    const long long block_offset = static_cast<long long>(c0) * view.plane();
    for (int a = 0; a < s.kernel_h; ++a) {
      for (int b = 0; b < s.kernel_w; ++b) {
        float* out = dweight + (a * s.kernel_w + b) * s.group_channels() + c0;
        block.load(out);
        for (int i = 0; i < count; ++i) {
          const WindowEntry& e = entries[i];
          const int y = e.row + a * s.dilation_h, x = e.col + b * s.dilation_w;
          if (static_cast<unsigned>(y) >= static_cast<unsigned>(s.height) ||
              static_cast<unsigned>(x) >= static_cast<unsigned>(s.width)) {
            continue;
          }
          block.add(e.value, e.group_x + block_offset +
                                 static_cast<long long>(y * s.width + x) * block.width());
        }
        block.store(out);
      }
    }
  }
};

CAFFE_VECTOR_CLONES void channel_weight_gradient(const HostView& view, const WindowEntry* entries,
                                                 int count, float* dweight) {
  for_each_block(view.shape.group_channels(), WeightBlockPass{view, entries, count, dweight});
}

// Output channels [begin, end): dW (as [O, kh, kw, C/G], accumulated) and db from x (blocked),
// images in passes of `images_per_pass`.
void weight_gradient_range(const HostView& view, const float* x_blocked, int images_per_pass,
                           int begin, int end, float* dweights, float* dbias) {
  const SparseConvShape& s = view.shape;
  std::vector<WindowEntry> entries;
  for (int first = 0; first < s.batch; first += images_per_pass) {
    const int last = std::min(s.batch, first + images_per_pass);
    for (int o = begin; o < end; ++o) {
      const long long group_offset =
          static_cast<long long>(o / s.group_outputs()) * s.group_channels() * view.plane();
      entries.clear();
      float bias = 0.0f;
      for (int n = first; n < last; ++n) {
        const float* group_x = x_blocked + n * view.image_size() + group_offset;
        const int row = n * s.outputs + o;
        for (int e = view.channel_offsets[row]; e < view.channel_offsets[row + 1]; ++e) {
          const int p = view.positions[e];
          entries.push_back(
              {group_x, view.window_row[p], view.window_col[p], view.channel_values[e]});
          bias += view.channel_values[e];
        }
      }
      if (dbias) dbias[o] += bias;
      if (dweights && !entries.empty()) {
        channel_weight_gradient(view, entries.data(), static_cast<int>(entries.size()),
                                dweights + static_cast<long long>(o) * s.filter_size());
      }
    }
  }
}

// ----- AGB -----

// The weights as AGB reads them: blocked ([group][block: tap, output channel, width]) or in
// kernel order ([O, kh, kw, C/G], the stored order of 1x1 kernels).
struct InputWeights {
  const float* data;
  bool blocked;
};

// dx[n, g, block, (y, x)] for every input position of images [begin, end) (overwritten, blocked
// layout); the block's slice of the group's weights is reused by all of them.
struct InputBlockPass {
  const HostView& view;
  InputWeights weights;
  int begin, end, group;
  float* dx_blocked;

  template <typename Block>
  CAFFE_ALWAYS_INLINE void operator()(Block block, int c0) const {
    const SparseConvShape& s = view.shape;
    const long long group_weights =
        static_cast<long long>(group) * s.group_outputs() * s.filter_size();
    // W[g·O/G + o', tap, block] is at slice + tap · tap_stride + o' · channel_stride.
    const float* slice =
        weights.data + group_weights +
        (weights.blocked ? static_cast<long long>(c0) * s.taps() * s.group_outputs() : c0);
    const long long tap_stride = weights.blocked
                                     ? static_cast<long long>(s.group_outputs()) * block.width()
                                     : s.group_channels();
    const long long channel_stride = weights.blocked ? block.width() : s.filter_size();
    const long long block_offset =
        (static_cast<long long>(group) * s.group_channels() + c0) * view.plane();
    for (int n = begin; n < end; ++n) {
      float* out = dx_blocked + n * view.image_size() + block_offset;
      const int rows_base = (n * s.groups + group) * s.out_spatial();
      for (int y = 0; y < s.height; ++y) {
        for (int x = 0; x < s.width; ++x) {
          block.clear();
          for (int a = 0; a < s.kernel_h; ++a) {
            const int i = view.output_row[y * s.kernel_h + a];
            if (i < 0) continue;
            for (int b = 0; b < s.kernel_w; ++b) {
              const int j = view.output_col[x * s.kernel_w + b];
              if (j < 0) continue;
              const int row = rows_base + i * s.out_width + j;
              const float* tap = slice + (a * s.kernel_w + b) * tap_stride;
              for (int e = view.position_offsets[row]; e < view.position_offsets[row + 1]; ++e) {
                block.add(view.position_values[e], tap + view.channels[e] * channel_stride);
              }
            }
          }
          block.store(out + static_cast<long long>(y * s.width + x) * block.width());
        }
      }
    }
  }
};

CAFFE_VECTOR_CLONES void input_gradient_range(const HostView& view, InputWeights weights, int begin,
                                              int end, float* dx_blocked) {
  for (int g = 0; g < view.shape.groups; ++g) {
    for_each_block(view.shape.group_channels(),
                   InputBlockPass{view, weights, begin, end, g, dx_blocked});
  }
}

// ----- layout changes and threads -----

// dst [cols, rows] = src [rows, cols]ᵀ, in tiles that stay in the cache.
void transpose(int rows, int cols, const float* src, float* dst) {
  constexpr int kTile = 32;
  for (int r0 = 0; r0 < rows; r0 += kTile) {
    const int r1 = std::min(rows, r0 + kTile);
    for (int c0 = 0; c0 < cols; c0 += kTile) {
      const int c1 = std::min(cols, c0 + kTile);
      for (int c = c0; c < c1; ++c) {
        for (int r = r0; r < r1; ++r) {
          dst[static_cast<long long>(c) * rows + r] = src[static_cast<long long>(r) * cols + c];
        }
      }
    }
  }
}

// Image n of a plain NCHW tensor into the blocked layout (to_blocked) or back.
void change_image_layout(const SparseConvShape& s, const float* src, float* dst, bool to_blocked) {
  const int plane = s.height * s.width;
  for_each_image_block(s, [&](long long offset, int width) {
    if (to_blocked) {
      transpose(width, plane, src + offset, dst + offset);
    } else {
      transpose(plane, width, src + offset, dst + offset);
    }
  });
}

// Calls fn(o, c, tap, index) for every weight: output channel o, channel c of its group, kernel
// tap, and its index in the stored order; output channels split over the threads.
template <typename Fn>
void for_each_weight(const SparseConvShape& s, const Fn& fn) {
  parallel_for(s.outputs, std::max(1, 65536 / s.filter_size()),
               [&](long long begin, long long end) {
                 for (int o = static_cast<int>(begin); o < end; ++o) {
                   for (int c = 0; c < s.group_channels(); ++c) {
                     for (int tap = 0; tap < s.taps(); ++tap) {
                       fn(o, c, tap, s.weight_index(o, c, tap / s.kernel_w, tap % s.kernel_w));
                     }
                   }
                 }
               });
}

// The offset of W[o, c, tap] in the blocked layout of AGB.
long long blocked_weight_index(const SparseConvShape& s, int o, int c, int tap) {
  const int group = o / s.group_outputs(), channel = o % s.group_outputs();
  int c0 = std::min(c / 64 * 64, s.group_channels() / 64 * 64);  // the 64-wide blocks come first
  while (c0 + block_width(s.group_channels() - c0) <= c) c0 += block_width(s.group_channels() - c0);
  const int width = block_width(s.group_channels() - c0);
  return static_cast<long long>(group) * s.group_outputs() * s.filter_size() +
         static_cast<long long>(c0) * s.taps() * s.group_outputs() +
         (static_cast<long long>(tap) * s.group_outputs() + channel) * width + (c - c0);
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

// Bytes of x that one WGC pass keeps in the cache (a core's share of L2).
constexpr long long kWeightPassBytes = 512 * 1024;

// The blocked copies, shared by every layer of the thread (layers run their backward one after
// the other, so one layer's copies never outlive its call): x, then dx, in `activations`; the
// dW accumulator [O, kh, kw, C/G], then blocked W, in `weights`.
struct HostScratch {
  std::vector<float> activations, weights;
};

HostScratch& host_scratch() {
  thread_local HostScratch scratch;
  return scratch;
}

}  // namespace

void SparseConvBackward::ComputeHostTables() {
  const ConvGeometry& g = geometry_;
  window_row_.resize(g.out_spatial());
  window_col_.resize(g.out_spatial());
  for (int p = 0; p < g.out_spatial(); ++p) {
    window_row_[p] = p / g.out_w * g.height.stride - g.height.pad;
    window_col_[p] = p % g.out_w * g.width.stride - g.width.pad;
  }
  // Input coordinate t is read at tap k by output u iff t = u·stride − pad + k·dilation.
  const auto readers = [](const ConvWindow& w, int inputs, int outputs, std::vector<int>* table) {
    table->assign(static_cast<size_t>(inputs) * w.kernel, -1);
    for (int t = 0; t < inputs; ++t) {
      for (int k = 0; k < w.kernel; ++k) {
        const int span = t + w.pad - k * w.dilation;
        if (span >= 0 && span % w.stride == 0 && span / w.stride < outputs) {
          (*table)[t * w.kernel + k] = span / w.stride;
        }
      }
    }
  };
  readers(g.height, g.in_h, g.out_h, &output_row_);
  readers(g.width, g.in_w, g.out_w, &output_col_);
}

void SparseConvBackward::CompressByPositionOnHost() {
  const SparseConvShape& s = shape_;
  const int* channel_offsets = channel_rows_.offsets(Mode::CPU);
  const int* positions = channel_rows_.indices(Mode::CPU);
  const float* values = channel_rows_.values(Mode::CPU);
  const SparseRows::HostRows out =
      position_rows_.WriteOnHost(PositionRows(), channel_rows_.nonzeros());
  const int image_rows = s.groups * s.out_spatial();
  out.offsets[0] = 0;
  // Image n's rows hold the same entries as its channel rows, so they start where those do;
  // a counting sort by (group, position) per image, channels in order within a row.
  parallel_for(s.batch, 1, [&](long long begin, long long end) {
    std::vector<int> cursor(image_rows);
    for (int n = static_cast<int>(begin); n < end; ++n) {
      const int* rows = channel_offsets + n * s.outputs;
      int* row_ends = out.offsets + static_cast<long long>(n) * image_rows + 1;
      std::fill(row_ends, row_ends + image_rows, 0);
      for (int o = 0; o < s.outputs; ++o) {
        const int group_rows = o / s.group_outputs() * s.out_spatial();
        for (int e = rows[o]; e < rows[o + 1]; ++e) ++row_ends[group_rows + positions[e]];
      }
      int next = rows[0];
      for (int r = 0; r < image_rows; ++r) {
        cursor[r] = next;
        next += row_ends[r];
        row_ends[r] = next;
      }
      for (int o = 0; o < s.outputs; ++o) {
        const int group = o / s.group_outputs();
        for (int e = rows[o]; e < rows[o + 1]; ++e) {
          const int entry = cursor[group * s.out_spatial() + positions[e]]++;
          out.indices[entry] = o - group * s.group_outputs();
          out.values[entry] = values[e];
        }
      }
    }
  });
}

void SparseConvBackward::BackwardOnHost(const float* x, const float* weights, float* dx,
                                        float* dweights, float* dbias) {
  const SparseConvShape& s = shape_;
  const SparseRows& by_channel = channel_rows_;
  const bool by_position = dx != nullptr;
  const HostView view{s,
                      by_channel.offsets(Mode::CPU),
                      by_channel.indices(Mode::CPU),
                      by_channel.values(Mode::CPU),
                      by_position ? position_rows_.offsets(Mode::CPU) : nullptr,
                      by_position ? position_rows_.indices(Mode::CPU) : nullptr,
                      by_position ? position_rows_.values(Mode::CPU) : nullptr,
                      window_row_.data(),
                      window_col_.data(),
                      output_row_.data(),
                      output_col_.data()};
  const int filter = s.filter_size();
  HostScratch& scratch = host_scratch();
  // One-pixel images (InnerProduct) are their own blocked layout, and 1x1 kernels' stored
  // weights are already [O, kh, kw, C/G].
  const bool plain_is_blocked = view.plane() == 1;
  const bool weights_in_kernel_order = s.taps() == 1 && !s.input_major_weights;

  if (dweights || dbias) {
    const float* x_blocked = x;
    if (dweights && !plain_is_blocked) {
      scratch.activations.resize(s.batch * view.image_size());
      parallel_for(s.batch, 1, [&](long long begin, long long end) {
        for (long long n = begin; n < end; ++n) {
          change_image_layout(s, x + n * view.image_size(),
                              scratch.activations.data() + n * view.image_size(), true);
        }
      });
      x_blocked = scratch.activations.data();
    }
    float* gradient = dweights;
    if (dweights && !weights_in_kernel_order) {
      scratch.weights.assign(static_cast<size_t>(s.outputs) * filter, 0.0f);
      gradient = scratch.weights.data();
    }
    std::vector<double> costs(s.outputs, filter);
    for (int n = 0; n < s.batch; ++n) {
      const int* offsets = view.channel_offsets + n * s.outputs;
      for (int o = 0; o < s.outputs; ++o) {
        costs[o] += static_cast<double>(offsets[o + 1] - offsets[o]) * filter;
      }
    }
    const long long image_bytes = view.image_size() * static_cast<long long>(sizeof(float));
    const int images_per_pass = static_cast<int>(std::clamp(
        kWeightPassBytes / std::max(1LL, image_bytes), 1LL, static_cast<long long>(s.batch)));
    run_balanced(costs, [&](int begin, int end) {
      weight_gradient_range(view, x_blocked, images_per_pass, begin, end, gradient, dbias);
    });
    if (dweights && gradient != dweights) {
      for_each_weight(s, [&](int o, int c, int tap, long long index) {
        dweights[index] +=
            gradient[(static_cast<long long>(o) * s.taps() + tap) * s.group_channels() + c];
      });
    }
  }

  if (dx) {
    InputWeights input_weights{weights, false};
    if (!weights_in_kernel_order) {
      scratch.weights.resize(static_cast<size_t>(s.outputs) * filter);
      for_each_weight(s, [&](int o, int c, int tap, long long index) {
        scratch.weights[blocked_weight_index(s, o, c, tap)] = weights[index];
      });
      input_weights = {scratch.weights.data(), true};
    }
    if (!plain_is_blocked) scratch.activations.resize(s.batch * view.image_size());
    float* dx_target = plain_is_blocked ? dx : scratch.activations.data();
    std::vector<double> costs(s.batch, static_cast<double>(view.image_size()));
    for (int n = 0; n < s.batch; ++n) {
      const int* row_offsets = view.channel_offsets + n * s.outputs;
      costs[n] += static_cast<double>(row_offsets[s.outputs] - row_offsets[0]) * filter;
    }
    run_balanced(costs, [&](int begin, int end) {
      input_gradient_range(view, input_weights, begin, end, dx_target);
      for (int n = begin; n < end && !plain_is_blocked; ++n) {
        change_image_layout(s, dx_target + n * view.image_size(), dx + n * view.image_size(),
                            false);
      }
    });
  }
}

}  // namespace caffe
