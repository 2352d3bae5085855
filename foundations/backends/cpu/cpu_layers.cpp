// Layer ops of the CPU backend: dense layers and convolutions as Eigen GEMMs over row-major
// maps of the raw buffers, with bias and ReLU fused into one pass over the output; pooling
// and softmax cross-entropy as plain loops. Single-threaded and synchronous.
//
// Convolutions lower a chunk of images at a time (im2col). The caller's workspace
// (ConvShape::workspace_floats()) is split in two: the columns, (C*K*K, chunk*OH*OW), and the
// GEMM result in channel-major order, (OC, chunk*OH*OW), which the fused bias/ReLU pass
// scatters into the batch-major output. The chunk is as many images as fit both, capped so
// the columns stay cache-resident; when fewer than two fit, images go one at a time and the
// result is written straight into the output (for one image both orders coincide).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include <Eigen/Core>

#include "foundations/backends/cpu/cpu_backend.h"
#include "foundations/base/error.h"

namespace chorus {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajor>;
using MatrixMap = Eigen::Map<RowMajor>;

// Adds the bias and applies the activation to each of `rows` rows of `cols` floats.
void bias_activation_rows(float* __restrict y, const float* __restrict bias, int rows, int cols,
                          Activation act) {
  for (int i = 0; i < rows; ++i) {
    float* __restrict row = y + static_cast<std::size_t>(i) * cols;
    if (act == Activation::relu) {
      for (int j = 0; j < cols; ++j) row[j] = std::max(row[j] + bias[j], 0.0f);
    } else {
      for (int j = 0; j < cols; ++j) row[j] += bias[j];
    }
  }
}

// Masks dy (rows x cols) where the activated output y is not positive (ReLU only) and writes
// the column sums of the masked dy into db.
void mask_and_column_sums(float* __restrict dy, const float* __restrict y,
                          float* __restrict db, int rows, int cols, Activation act) {
  std::fill(db, db + cols, 0.0f);
  for (int i = 0; i < rows; ++i) {
    const std::size_t base = static_cast<std::size_t>(i) * cols;
    float* __restrict drow = dy + base;
    if (act == Activation::relu) {
      const float* __restrict yrow = y + base;
      for (int j = 0; j < cols; ++j) {
        const float d = yrow[j] > 0.0f ? drow[j] : 0.0f;
        drow[j] = d;
        db[j] += d;
      }
    } else {
      for (int j = 0; j < cols; ++j) db[j] += drow[j];
    }
  }
}

// Geometry of one convolution call, in the sizes the lowering loops need.
struct ConvGeometry {
  int channels, height, width, out_channels, kernel, stride, pad, out_height, out_width;
  std::size_t in_image;   // floats of one input image, C*H*W
  std::size_t out_plane;  // floats of one output channel, OH*OW
  std::size_t patch;      // rows of the column matrix, C*K*K

  explicit ConvGeometry(const ConvShape& s)
      : channels(s.in_channels),
        height(s.height),
        width(s.width),
        out_channels(s.out_channels),
        kernel(s.kernel),
        stride(s.stride),
        pad(s.pad),
        out_height(s.out_height()),
        out_width(s.out_width()),
        in_image(static_cast<std::size_t>(s.in_channels) * s.height * s.width),
        out_plane(static_cast<std::size_t>(s.out_height()) * s.out_width()),
        patch(static_cast<std::size_t>(s.in_channels) * s.kernel * s.kernel) {}

  std::size_t out_image() const { return out_plane * out_channels; }

  // Images lowered per GEMM: as many as fit the workspace with their result, but no more
  // than keep the columns cache-resident (beyond that the GEMM gains nothing from the wider
  // matrix and loses to memory traffic). One image needs no separate result area.
  int chunk_images(int batch, std::size_t workspace) const {
    constexpr std::size_t kMaxColumnFloats = std::size_t{1} << 18;  // 1 MiB
    const std::size_t both = (patch + out_channels) * out_plane;
    const std::size_t fit = std::min(workspace / both, kMaxColumnFloats / (patch * out_plane));
    return fit >= 2 ? static_cast<int>(std::min<std::size_t>(fit, batch)) : 1;
  }

  // The valid output columns [lo, hi) of a kernel tap at offset `tap` along an axis of
  // `in_size` input pixels: those whose input pixel o*stride - pad + tap lies inside.
  void valid_range(int tap, int in_size, int out_size, int& lo, int& hi) const {
    const int first = pad - tap;  // o*stride >= first
    lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    const int last = in_size - 1 + pad - tap;  // o*stride <= last
    hi = last < 0 ? 0 : std::min(out_size, last / stride + 1);
    if (lo > hi) lo = hi;
  }
};

// Zeroes the columns of rows [oh_lo, oh_hi) of an (OH, OW) block outside [ow_lo, ow_hi).
void zero_row_edges(float* __restrict block, int out_width, int oh_lo, int oh_hi, int ow_lo,
                    int ow_hi) {
  for (int oh = oh_lo; oh < oh_hi; ++oh) {
    float* __restrict row = block + static_cast<std::size_t>(oh) * out_width;
    for (int ow = 0; ow < ow_lo; ++ow) row[ow] = 0.0f;
    for (int ow = ow_hi; ow < out_width; ++ow) row[ow] = 0.0f;
  }
}

// One kernel tap (c, ki, kj) of a convolution: its row of the column matrix and the outputs
// [oh_lo, oh_hi) x [ow_lo, ow_hi) whose input pixel lies inside the image.
struct Tap {
  int c = 0, ki = 0, kj = 0;
  std::size_t row = 0;
  int oh_lo = 0, oh_hi = 0, ow_lo = 0, ow_hi = 0;
  bool empty() const { return oh_lo == oh_hi || ow_lo == ow_hi; }
  // With stride 1 and outputs as wide as the inputs: the constant offset from an output's flat
  // index (oh * W + ow) to its input pixel's.
  std::ptrdiff_t flat_shift(const ConvGeometry& g) const {
    return static_cast<std::ptrdiff_t>(ki - g.pad) * g.width + (kj - g.pad);
  }
};

// Calls fn(tap) for every tap, in the order of the column matrix's rows.
template <typename Fn>
void for_each_tap(const ConvGeometry& g, Fn&& fn) {
  Tap t;
  for (t.c = 0; t.c < g.channels; ++t.c)
    for (t.ki = 0; t.ki < g.kernel; ++t.ki) {
      g.valid_range(t.ki, g.height, g.out_height, t.oh_lo, t.oh_hi);
      for (t.kj = 0; t.kj < g.kernel; ++t.kj) {
        g.valid_range(t.kj, g.width, g.out_width, t.ow_lo, t.ow_hi);
        t.row = (static_cast<std::size_t>(t.c) * g.kernel + t.ki) * g.kernel + t.kj;
        fn(static_cast<const Tap&>(t));
      }
    }
}

// col(patch, images*OH*OW): row (c, ki, kj), column (n, oh, ow) = x[n][c][ih][iw] or 0
// outside the image, with ih = oh*stride - pad + ki, iw = ow*stride - pad + kj.
//
// When stride is 1 and the output is as wide as the input (the models' "same" convolutions),
// a tap's valid outputs are one contiguous run of the input shifted by a constant: one copy
// per image and tap, then the few entries that wrapped around a row edge are zeroed.
// Otherwise rows are copied one at a time.
void im2col(const float* __restrict x, int images, const ConvGeometry& g, float* __restrict col) {
  const std::size_t row_len = static_cast<std::size_t>(images) * g.out_plane;
  const std::size_t in_plane = static_cast<std::size_t>(g.height) * g.width;
  const bool flat = g.stride == 1 && g.out_width == g.width;
  for_each_tap(g, [&](const Tap& t) {
    const std::size_t rows_before = static_cast<std::size_t>(t.oh_lo) * g.out_width;
    const std::size_t rows_from = static_cast<std::size_t>(t.oh_hi) * g.out_width;
    for (int n = 0; n < images; ++n) {
      const float* __restrict plane = x + n * g.in_image + t.c * in_plane;
      float* __restrict out = col + t.row * row_len + n * g.out_plane;
      if (t.empty()) {
        std::fill(out, out + g.out_plane, 0.0f);
        continue;
      }
      std::fill(out, out + rows_before, 0.0f);
      std::fill(out + rows_from, out + g.out_plane, 0.0f);
      if (flat) {
        const std::size_t first = rows_before + t.ow_lo;
        const std::size_t last = rows_from - g.out_width + t.ow_hi;  // exclusive
        const float* __restrict src = plane + (static_cast<std::ptrdiff_t>(first) + t.flat_shift(g));
        std::copy(src, src + (last - first), out + first);
        zero_row_edges(out, g.out_width, t.oh_lo, t.oh_hi, t.ow_lo, t.ow_hi);
        continue;
      }
      for (int oh = t.oh_lo; oh < t.oh_hi; ++oh) {
        float* __restrict dst = out + static_cast<std::size_t>(oh) * g.out_width;
        const float* __restrict src = plane + static_cast<std::size_t>(oh * g.stride - g.pad + t.ki) * g.width +
                                      (t.ow_lo * g.stride - g.pad + t.kj);
        for (int ow = 0; ow < t.ow_lo; ++ow) dst[ow] = 0.0f;
        for (int k = 0; k < t.ow_hi - t.ow_lo; ++k) dst[t.ow_lo + k] = src[k * g.stride];
        for (int ow = t.ow_hi; ow < g.out_width; ++ow) dst[ow] = 0.0f;
      }
    }
  });
}

// The adjoint of im2col: dx (images, C, H, W) = sum of the columns' entries over the pixels
// they were read from; dx is overwritten. `col` is scratch: the flat path zeroes its entries
// that fall outside the image so that whole runs can be added.
void col2im(float* __restrict col, int images, const ConvGeometry& g, float* __restrict dx) {
  std::fill(dx, dx + images * g.in_image, 0.0f);
  const std::size_t row_len = static_cast<std::size_t>(images) * g.out_plane;
  const std::size_t in_plane = static_cast<std::size_t>(g.height) * g.width;
  const bool flat = g.stride == 1 && g.out_width == g.width;
  for_each_tap(g, [&](const Tap& t) {
    if (t.empty()) return;
    for (int n = 0; n < images; ++n) {
      float* __restrict plane = dx + n * g.in_image + t.c * in_plane;
      float* __restrict in = col + t.row * row_len + n * g.out_plane;
      if (flat) {
        const std::size_t first = static_cast<std::size_t>(t.oh_lo) * g.out_width + t.ow_lo;
        const std::size_t last = static_cast<std::size_t>(t.oh_hi - 1) * g.out_width + t.ow_hi;
        zero_row_edges(in, g.out_width, t.oh_lo, t.oh_hi, t.ow_lo, t.ow_hi);
        float* __restrict dst = plane + (static_cast<std::ptrdiff_t>(first) + t.flat_shift(g));
        const float* __restrict src = in + first;
        for (std::size_t k = 0; k < last - first; ++k) dst[k] += src[k];
        continue;
      }
      for (int oh = t.oh_lo; oh < t.oh_hi; ++oh) {
        const float* __restrict src = in + static_cast<std::size_t>(oh) * g.out_width;
        float* __restrict dst = plane + static_cast<std::size_t>(oh * g.stride - g.pad + t.ki) * g.width;
        for (int ow = t.ow_lo, iw = t.ow_lo * g.stride - g.pad + t.kj; ow < t.ow_hi; ++ow, iw += g.stride)
          dst[iw] += src[ow];
      }
    }
  });
}

// y (images, OC, OH*OW) = act(result + bias), result in channel-major order
// (OC, images*OH*OW). In place when images == 1 and result == y.
void scatter_bias_activation(const float* result, const float* __restrict bias, float* y,
                             int images, const ConvGeometry& g, Activation act) {
  const std::size_t plane = g.out_plane;
  const std::size_t row_len = static_cast<std::size_t>(images) * plane;
  for (int n = 0; n < images; ++n) {
    for (int oc = 0; oc < g.out_channels; ++oc) {
      const float* src = result + oc * row_len + n * plane;
      float* dst = y + n * g.out_image() + oc * plane;
      const float b = bias[oc];
      if (act == Activation::relu) {
        for (std::size_t p = 0; p < plane; ++p) dst[p] = std::max(src[p] + b, 0.0f);
      } else {
        for (std::size_t p = 0; p < plane; ++p) dst[p] = src[p] + b;
      }
    }
  }
}

// The reverse of the scatter for gradients: result (OC, images*OH*OW) = dy masked by the
// ReLU, dy read batch-major (images, OC, OH*OW); adds each channel's sum into db. In place
// when images == 1 and result == dy.
void gather_masked(float* dy, const float* __restrict y, float* result, float* __restrict db,
                   int images, const ConvGeometry& g, Activation act) {
  const std::size_t plane = g.out_plane;
  const std::size_t row_len = static_cast<std::size_t>(images) * plane;
  for (int n = 0; n < images; ++n) {
    for (int oc = 0; oc < g.out_channels; ++oc) {
      const std::size_t at = n * g.out_image() + oc * plane;
      const float* src = dy + at;
      float* dst = result + oc * row_len + n * plane;
      float sum = 0.0f;
      if (act == Activation::relu) {
        const float* __restrict yp = y + at;
        for (std::size_t p = 0; p < plane; ++p) {
          const float d = yp[p] > 0.0f ? src[p] : 0.0f;
          dst[p] = d;
          sum += d;
        }
      } else {
        for (std::size_t p = 0; p < plane; ++p) {
          const float d = src[p];
          dst[p] = d;
          sum += d;
        }
      }
      db[oc] += sum;
    }
  }
}

// Max pooling with a 2x2 window, the models' case: branch-free selects (the winners of real
// data are unpredictable) that vectorise. Ties go to the earlier element in row-major order,
// as in the general loop.
void maxpool2x2_forward(const float* __restrict x, float* __restrict y,
                        std::int32_t* __restrict argmax, int planes, int height, int width,
                        int oh_n, int ow_n) {
  for (int p = 0; p < planes; ++p) {
    for (int oh = 0; oh < oh_n; ++oh) {
      const std::int32_t top = (p * height + 2 * oh) * width;
      const float* __restrict r0 = x + top;
      const float* __restrict r1 = r0 + width;
      const std::size_t out = (static_cast<std::size_t>(p) * oh_n + oh) * ow_n;
      float* __restrict yo = y + out;
      std::int32_t* __restrict ao = argmax + out;
      for (int ow = 0; ow < ow_n; ++ow) {
        const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
        const std::int32_t j = top + 2 * ow;
        const float ab = b > a ? b : a;
        const std::int32_t ab_at = b > a ? j + 1 : j;
        const float cd = d > c ? d : c;
        const std::int32_t cd_at = d > c ? j + 1 + width : j + width;
        yo[ow] = cd > ab ? cd : ab;
        ao[ow] = cd > ab ? cd_at : ab_at;
      }
    }
  }
}

void check_conv(const ConvShape& s, const float* workspace) {
  CHORUS_CHECK(s.batch > 0 && s.in_channels > 0 && s.out_channels > 0 && s.kernel > 0 &&
                   s.stride > 0 && s.pad >= 0,
               "conv2d: invalid shape");
  CHORUS_CHECK(s.out_height() > 0 && s.out_width() > 0, "conv2d: kernel larger than input");
  CHORUS_CHECK(workspace != nullptr, "conv2d: no workspace");
}

}  // namespace

void CpuBackend::linear_forward(const float* x, const float* w, const float* bias, float* y,
                                int batch, int in, int out, Activation act) {
  CHORUS_CHECK(batch > 0 && in > 0 && out > 0, "linear_forward: invalid shape");
  ConstMatrixMap X(x, batch, in);
  ConstMatrixMap W(w, out, in);
  MatrixMap Y(y, batch, out);
  Y.noalias() = X * W.transpose();
  bias_activation_rows(y, bias, batch, out, act);
}

void CpuBackend::linear_backward(const float* x, const float* w, const float* y, float* dy,
                                 float* dx, float* dw, float* db, int batch, int in, int out,
                                 Activation act) {
  CHORUS_CHECK(batch > 0 && in > 0 && out > 0, "linear_backward: invalid shape");
  mask_and_column_sums(dy, y, db, batch, out, act);
  ConstMatrixMap X(x, batch, in);
  ConstMatrixMap W(w, out, in);
  ConstMatrixMap dY(dy, batch, out);
  MatrixMap dW(dw, out, in);
  dW.noalias() = dY.transpose() * X;
  if (dx) {
    MatrixMap dX(dx, batch, in);
    dX.noalias() = dY * W;
  }
}

void CpuBackend::conv2d_forward(const float* x, const float* w, const float* bias, float* y,
                                const ConvShape& shape, Activation act, float* workspace) {
  check_conv(shape, workspace);
  const ConvGeometry g(shape);
  const int chunk = g.chunk_images(shape.batch, shape.workspace_floats());
  ConstMatrixMap W(w, g.out_channels, static_cast<Eigen::Index>(g.patch));
  for (int n0 = 0; n0 < shape.batch; n0 += chunk) {
    const int images = std::min(chunk, shape.batch - n0);
    const auto cols = static_cast<Eigen::Index>(images * g.out_plane);
    float* col = workspace;
    float* y_chunk = y + n0 * g.out_image();
    float* result = chunk == 1 ? y_chunk : workspace + g.patch * cols;
    im2col(x + n0 * g.in_image, images, g, col);
    MatrixMap R(result, g.out_channels, cols);
    R.noalias() = W * ConstMatrixMap(col, static_cast<Eigen::Index>(g.patch), cols);
    scatter_bias_activation(result, bias, y_chunk, images, g, act);
  }
}

void CpuBackend::conv2d_backward(const float* x, const float* w, const float* y, float* dy,
                                 float* dx, float* dw, float* db, const ConvShape& shape,
                                 Activation act, float* workspace) {
  check_conv(shape, workspace);
  const ConvGeometry g(shape);
  const int chunk = g.chunk_images(shape.batch, shape.workspace_floats());
  const auto patch = static_cast<Eigen::Index>(g.patch);
  ConstMatrixMap W(w, g.out_channels, patch);
  MatrixMap dW(dw, g.out_channels, patch);
  std::fill(db, db + g.out_channels, 0.0f);
  for (int n0 = 0; n0 < shape.batch; n0 += chunk) {
    const int images = std::min(chunk, shape.batch - n0);
    const auto cols = static_cast<Eigen::Index>(images * g.out_plane);
    const std::size_t out_offset = n0 * g.out_image();
    float* col = workspace;
    float* result = chunk == 1 ? dy + out_offset : workspace + g.patch * cols;
    im2col(x + n0 * g.in_image, images, g, col);
    gather_masked(dy + out_offset, y + out_offset, result, db, images, g, act);
    ConstMatrixMap dR(result, g.out_channels, cols);
    MatrixMap C(col, patch, cols);
    if (n0 == 0) {
      dW.noalias() = dR * C.transpose();
    } else {
      dW.noalias() += dR * C.transpose();
    }
    if (dx) {
      C.noalias() = W.transpose() * dR;  // the columns' gradient replaces the columns
      col2im(col, images, g, dx + n0 * g.in_image);
    }
  }
}

void CpuBackend::maxpool2d_forward(const float* x, float* y, std::int32_t* argmax,
                                   const PoolShape& s) {
  CHORUS_CHECK(s.batch > 0 && s.channels > 0 && s.window > 0 && s.out_height() > 0 &&
                   s.out_width() > 0,
               "maxpool2d_forward: invalid shape");
  const std::size_t total = static_cast<std::size_t>(s.batch) * s.channels * s.height * s.width;
  CHORUS_CHECK(total <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
               "maxpool2d_forward: input too large for int32 indices");
  const int oh_n = s.out_height(), ow_n = s.out_width(), k = s.window;
  const int planes = s.batch * s.channels;
  if (k == 2) {
    maxpool2x2_forward(x, y, argmax, planes, s.height, s.width, oh_n, ow_n);
    return;
  }
  std::size_t o = 0;
  for (int p = 0; p < planes; ++p) {
    const std::int32_t plane = p * s.height * s.width;
    for (int oh = 0; oh < oh_n; ++oh) {
      for (int ow = 0; ow < ow_n; ++ow, ++o) {
        std::int32_t best = plane + oh * k * s.width + ow * k;
        float best_value = x[best];
        for (int i = 0; i < k; ++i) {
          const std::int32_t row = plane + (oh * k + i) * s.width + ow * k;
          for (int j = 0; j < k; ++j) {
            if (x[row + j] > best_value) {
              best_value = x[row + j];
              best = row + j;
            }
          }
        }
        y[o] = best_value;
        argmax[o] = best;
      }
    }
  }
}

void CpuBackend::maxpool2d_backward(const float* dy, const std::int32_t* argmax, float* dx,
                                    const PoolShape& s) {
  const std::size_t in = static_cast<std::size_t>(s.batch) * s.channels * s.height * s.width;
  const std::size_t out = static_cast<std::size_t>(s.batch) * s.channels * s.out_height() *
                          s.out_width();
  std::fill(dx, dx + in, 0.0f);
  for (std::size_t o = 0; o < out; ++o) dx[argmax[o]] += dy[o];
}

void CpuBackend::softmax_xent(const float* logits, const std::int32_t* labels, float* dlogits,
                              float* loss_out, float* correct_out, int batch, int classes) {
  CHORUS_CHECK(batch > 0 && classes > 0, "softmax_xent: invalid shape");
  double loss = 0.0;
  int correct = 0;
  const float inv_batch = 1.0f / static_cast<float>(batch);
  for (int i = 0; i < batch; ++i) {
    const float* row = logits + static_cast<std::size_t>(i) * classes;
    const int label = labels[i];
    CHORUS_CHECK(label >= 0 && label < classes, "softmax_xent: label out of range");
    int best = 0;
    for (int j = 1; j < classes; ++j)
      if (row[j] > row[best]) best = j;
    const float top = row[best];
    double sum = 0.0;
    for (int j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(row[j] - top));
    loss += std::log(sum) - static_cast<double>(row[label] - top);
    correct += best == label;
    if (dlogits) {
      float* d = dlogits + static_cast<std::size_t>(i) * classes;
      const double scale = static_cast<double>(inv_batch) / sum;
      for (int j = 0; j < classes; ++j)
        d[j] = static_cast<float>(std::exp(static_cast<double>(row[j] - top)) * scale);
      d[label] -= inv_batch;
    }
  }
  loss_out[0] = static_cast<float>(loss / batch);
  correct_out[0] = static_cast<float>(correct);
}

}  // namespace chorus
