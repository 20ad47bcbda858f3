// im2col / col2im for 2-D convolutions, written once for the host and the device (the grid form
// of for_each, caffe/util/device.hpp).
//
// The im2col matrix of one image (C channels, H x W, a window of kernel_h x kernel_w taps) has a
// row per (channel c, kernel row a, kernel column b), in that order, and a column per output
// position (i, j), row-major:
//   col[(c·kh + a)·kw + b][i·out_w + j] = x[c][i·stride_h − pad_h + a·dilation_h]
//                                            [j·stride_w − pad_w + b·dilation_w]   (0 outside),
// so that a convolution is one product  y [M, out_h·out_w] = W [M, C·kh·kw] · col  per group.
// col2im is its transpose: every input position sums the matrix entries that were copied from it.
#pragma once

#include "caffe/util/conv_geometry.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

// The sizes one image's im2col needs.
struct Im2colShape {
  int channels, in_h, in_w, out_h, out_w;
  ConvWindow height, width;
};

// Fills one row of col per (c, a, b, output row i); cols = out_w.
struct Im2colRow {
  Im2colShape s;
  const float* image;
  float* col;
  CAFFE_HOST_DEVICE void operator()(int row, int j) const {
    const int i = row % s.out_h;
    int rest = row / s.out_h;
    const int b = rest % s.width.kernel;
    rest /= s.width.kernel;
    const int a = rest % s.height.kernel;
    const int c = rest / s.height.kernel;
    const int h = i * s.height.stride - s.height.pad + a * s.height.dilation;
    const int w = j * s.width.stride - s.width.pad + b * s.width.dilation;
    const bool inside = h >= 0 && h < s.in_h && w >= 0 && w < s.in_w;
    col[static_cast<long long>(row) * s.out_w + j] =
        inside ? image[(static_cast<long long>(c) * s.in_h + h) * s.in_w + w] : 0.0f;
  }
};

// Sums into image position (row = c·in_h + h, w) the entries of col taken from it (a gather:
// no two threads write one position, so the result is deterministic on either device).
struct Col2imPixel {
  Im2colShape s;
  const float* col;
  float* image;
  CAFFE_HOST_DEVICE void operator()(int row, int w) const {
    const int h = row % s.in_h;
    const int c = row / s.in_h;
    float sum = 0.0f;
    for (int a = 0; a < s.height.kernel; ++a) {
      const int i_strided = h + s.height.pad - a * s.height.dilation;  // i · stride_h
      if (i_strided < 0) break;
      if (i_strided % s.height.stride != 0) continue;
      const int i = i_strided / s.height.stride;
      if (i >= s.out_h) continue;
      for (int b = 0; b < s.width.kernel; ++b) {
        const int j_strided = w + s.width.pad - b * s.width.dilation;  // j · stride_w
        if (j_strided < 0) break;
        if (j_strided % s.width.stride != 0) continue;
        const int j = j_strided / s.width.stride;
        if (j >= s.out_w) continue;
        const long long col_row =
            (static_cast<long long>(c) * s.height.kernel + a) * s.width.kernel + b;
        sum += col[(col_row * s.out_h + i) * s.out_w + j];
      }
    }
    image[static_cast<long long>(row) * s.in_w + w] = sum;
  }
};

// col [C·kh·kw, out_h·out_w] from one image [C, in_h, in_w] (both on `mode`'s device).
void im2col(Mode mode, const Im2colShape& shape, const float* image, float* col);
// image [C, in_h, in_w] = the transpose of im2col applied to col (overwrites the image).
void col2im(Mode mode, const Im2colShape& shape, const float* col, float* image);

}  // namespace caffe
