// Layer ops of the CUDA backend: GEMMs through cuBLAS, everything around them as small
// kernels on the backend's stream.
//
// Dense layers: one GEMM, then one fused bias + activation pass. Backward: one kernel masks
// dy by the ReLU in place and reduces the bias gradient, then two GEMMs.
//
// Convolutions lower a chunk of images at a time into the caller's workspace
// (ConvShape::workspace_floats()); the chunk is as many images as the workspace holds.
// - Forward: im2col of the chunk, image after image ((C*K*K, OH*OW) each), then one strided
//   batched GEMM y_n = W col_n writing the batch-major output directly; one fused
//   bias + activation pass over the whole output at the end.
// - Backward: dy is masked and the bias gradient reduced over the whole batch first. Per
//   chunk the workspace is split like the CPU backend's: the columns in chunk-wide order
//   (C*K*K, images*OH*OW) and dy of the chunk in channel-major order (OC, images*OH*OW), so
//   dW accumulates over the chunk inside one GEMM (K = images*OH*OW); the columns' gradient
//   W^T dy replaces the columns and col2im gathers it into dx. When fewer than two images fit
//   both areas, images go one at a time and dy itself is the channel-major operand.
//
// Every reduction has a fixed order (no atomics), so results are reproducible run to run.
#include <math_constants.h>

#include <algorithm>

#include "foundations/backends/cuda/cuda_backend_impl.h"
#include "foundations/backends/cuda/cuda_check.h"
#include "foundations/backends/cuda/cuda_launch.h"
#include "foundations/base/error.h"

namespace chorus {

using cuda_detail::blocks_for;
using cuda_detail::checked_int;
using cuda_detail::kThreads;

namespace {

// Sum of v over the block (blockDim.x == kThreads, a power of two), in a fixed order. Every
// thread of the block must call it; the result is valid in every thread.
template <typename T>
__device__ T block_sum(T v) {
  __shared__ T partial[kThreads];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const T total = partial[0];
  __syncthreads();  // partial may be reused by a following call
  return total;
}

// y (outer, channels, inner) = act(y + bias[channel]); bias may be null.
__global__ void bias_activation_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                       int total, int channels, int inner, bool relu) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    float v = y[i];
    if (bias) v += bias[(i / inner) % channels];
    if (relu) v = v < 0.0f ? 0.0f : v;
    y[i] = v;
  }
}

// dy (outer, channels, inner): zeroes dy where the activated output y is not positive (relu
// only), and writes db[channel] = sum of dy over outer and inner (db may be null). One block
// per channel.
__global__ void mask_and_channel_sums_kernel(float* __restrict__ dy, const float* __restrict__ y,
                                             float* __restrict__ db, int outer, int channels,
                                             int inner, bool relu) {
  const int channel = blockIdx.x;
  const int count = outer * inner;
  float sum = 0.0f;
  for (int j = threadIdx.x; j < count; j += blockDim.x) {
    const int at = ((j / inner) * channels + channel) * inner + j % inner;
    float d = dy[at];
    if (relu && !(y[at] > 0.0f)) {
      d = 0.0f;
      dy[at] = 0.0f;
    }
    sum += d;
  }
  sum = block_sum(sum);
  if (db && threadIdx.x == 0) db[channel] = sum;
}

// Convolution geometry in the form the kernels take (all ints; sizes checked on the host).
struct ConvDims {
  int channels, height, width, kernel, stride, pad, out_height, out_width;
};

// col(image b, row r = (c, kh, kw), column p = (oh, ow)) at b*image_stride + r*row_stride + p
// = x[b][c][oh*stride - pad + kh][ow*stride - pad + kw], or 0 outside the image.
__global__ void im2col_kernel(const float* __restrict__ x, float* __restrict__ col, int images,
                              ConvDims d, int image_stride, int row_stride) {
  const int plane = d.out_height * d.out_width;
  const int patch = d.channels * d.kernel * d.kernel;
  const int total = images * patch * plane;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int p = i % plane;
    const int r = (i / plane) % patch;
    const int b = i / (plane * patch);
    const int ow = p % d.out_width, oh = p / d.out_width;
    const int kw = r % d.kernel, kh = (r / d.kernel) % d.kernel, c = r / (d.kernel * d.kernel);
    const int ih = oh * d.stride - d.pad + kh;
    const int iw = ow * d.stride - d.pad + kw;
    float v = 0.0f;
    if (ih >= 0 && ih < d.height && iw >= 0 && iw < d.width)
      v = x[((static_cast<std::size_t>(b) * d.channels + c) * d.height + ih) * d.width + iw];
    col[static_cast<std::size_t>(b) * image_stride + static_cast<std::size_t>(r) * row_stride +
        p] = v;
  }
}

// The adjoint of im2col (same column layout): dx[b][c][ih][iw] = the sum of the column
// entries read from that pixel, over (kh, kw) in order. One thread per dx element; dx is
// overwritten.
__global__ void col2im_kernel(const float* __restrict__ col, float* __restrict__ dx, int images,
                              ConvDims d, int image_stride, int row_stride) {
  const int total = images * d.channels * d.height * d.width;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int iw = i % d.width;
    const int ih = (i / d.width) % d.height;
    const int c = (i / (d.width * d.height)) % d.channels;
    const int b = i / (d.width * d.height * d.channels);
    const float* image_col = col + static_cast<std::size_t>(b) * image_stride;
    float sum = 0.0f;
    for (int kh = 0; kh < d.kernel; ++kh) {
      const int oh_stride = ih + d.pad - kh;  // oh * stride
      if (oh_stride < 0 || oh_stride % d.stride != 0) continue;
      const int oh = oh_stride / d.stride;
      if (oh >= d.out_height) continue;
      for (int kw = 0; kw < d.kernel; ++kw) {
        const int ow_stride = iw + d.pad - kw;
        if (ow_stride < 0 || ow_stride % d.stride != 0) continue;
        const int ow = ow_stride / d.stride;
        if (ow >= d.out_width) continue;
        const int r = (c * d.kernel + kh) * d.kernel + kw;
        sum += image_col[static_cast<std::size_t>(r) * row_stride + oh * d.out_width + ow];
      }
    }
    dx[i] = sum;
  }
}

// result (channels, images*plane) = src (images, channels, plane): batch-major to
// channel-major.
__global__ void to_channel_major_kernel(const float* __restrict__ src, float* __restrict__ result,
                                        int images, int channels, int plane) {
  const int total = images * channels * plane;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int p = i % plane;
    const int b = (i / plane) % images;
    const int c = i / (plane * images);
    result[i] = src[(static_cast<std::size_t>(b) * channels + c) * plane + p];
  }
}

// One thread per output element; the first maximum in row-major window order wins (as on
// the CPU). argmax holds the flat index into x.
__global__ void maxpool_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                       std::int32_t* __restrict__ argmax, int planes, int height,
                                       int width, int window, int out_height, int out_width) {
  const int total = planes * out_height * out_width;
  for (int o = blockIdx.x * blockDim.x + threadIdx.x; o < total; o += gridDim.x * blockDim.x) {
    const int ow = o % out_width;
    const int oh = (o / out_width) % out_height;
    const int plane = o / (out_width * out_height);
    const int origin = (plane * height + oh * window) * width + ow * window;
    int best = origin;
    float best_value = x[best];
    for (int i = 0; i < window; ++i) {
      for (int j = 0; j < window; ++j) {
        const int at = origin + i * width + j;
        const float v = x[at];
        if (v > best_value) {
          best_value = v;
          best = at;
        }
      }
    }
    y[o] = best_value;
    argmax[o] = best;
  }
}

// One thread per input element: windows do not overlap (window == stride), so each input
// pixel belongs to at most one output, which it takes the gradient of if it was its argmax.
__global__ void maxpool_backward_kernel(const float* __restrict__ dy,
                                        const std::int32_t* __restrict__ argmax,
                                        float* __restrict__ dx, int planes, int height, int width,
                                        int window, int out_height, int out_width) {
  const int total = planes * height * width;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int iw = i % width;
    const int ih = (i / width) % height;
    const int plane = i / (width * height);
    const int oh = ih / window, ow = iw / window;
    float g = 0.0f;
    if (oh < out_height && ow < out_width) {
      const int o = (plane * out_height + oh) * out_width + ow;
      if (argmax[o] == i) g = dy[o];
    }
    dx[i] = g;
  }
}

// One block of kThreads; thread t handles rows t, t + kThreads, ... and the block reduces the
// loss (in double, as the CPU backend) and the correct count. A label outside [0, classes)
// makes the loss NaN (the kernel cannot throw) and its row counts as wrong.
__global__ void softmax_xent_kernel(const float* __restrict__ logits,
                                    const std::int32_t* __restrict__ labels,
                                    float* __restrict__ dlogits, float* __restrict__ loss_out,
                                    float* __restrict__ correct_out, int batch, int classes) {
  const float inv_batch = 1.0f / static_cast<float>(batch);
  double loss = 0.0;
  int correct = 0;
  for (int i = threadIdx.x; i < batch; i += blockDim.x) {
    const float* row = logits + static_cast<std::size_t>(i) * classes;
    const int label = labels[i];
    const bool valid = label >= 0 && label < classes;
    int best = 0;
    for (int j = 1; j < classes; ++j)
      if (row[j] > row[best]) best = j;
    const float top = row[best];
    double sum = 0.0;
    for (int j = 0; j < classes; ++j) sum += exp(static_cast<double>(row[j] - top));
    loss += valid ? log(sum) - static_cast<double>(row[label] - top) : CUDART_NAN;
    correct += (valid && best == label) ? 1 : 0;
    if (dlogits) {
      float* d = dlogits + static_cast<std::size_t>(i) * classes;
      const double scale = static_cast<double>(inv_batch) / sum;
      for (int j = 0; j < classes; ++j)
        d[j] = static_cast<float>(exp(static_cast<double>(row[j] - top)) * scale);
      if (valid) d[label] -= inv_batch;
    }
  }
  loss = block_sum(loss);
  correct = block_sum(correct);
  if (threadIdx.x == 0) {
    loss_out[0] = static_cast<float>(loss / batch);
    correct_out[0] = static_cast<float>(correct);
  }
}

void check_conv(const ConvShape& s, const float* workspace) {
  CHORUS_CHECK(s.batch > 0 && s.in_channels > 0 && s.out_channels > 0 && s.kernel > 0 &&
                   s.stride > 0 && s.pad >= 0 && s.height > 0 && s.width > 0,
               "conv2d: invalid shape");
  CHORUS_CHECK(s.out_height() > 0 && s.out_width() > 0, "conv2d: kernel larger than input");
  CHORUS_CHECK(workspace != nullptr, "conv2d: no workspace");
  const std::size_t in = static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width;
  const std::size_t out =
      static_cast<std::size_t>(s.batch) * s.out_channels * s.out_height() * s.out_width();
  checked_int(in, "conv2d: input too large for 32-bit indexing");
  checked_int(out, "conv2d: output too large for 32-bit indexing");
  checked_int(s.workspace_floats(), "conv2d: workspace too large for 32-bit indexing");
}

ConvDims conv_dims(const ConvShape& s) {
  return ConvDims{s.in_channels, s.height,        s.width,      s.kernel,
                  s.stride,      s.pad,           s.out_height(), s.out_width()};
}

// The sizes a convolution's kernels and GEMMs use, derived once from its shape.
struct ConvSizes {
  explicit ConvSizes(const ConvShape& s)
      : d(conv_dims(s)),
        plane(d.out_height * d.out_width),
        patch(d.channels * d.kernel * d.kernel),
        oc(s.out_channels),
        in_image(static_cast<std::size_t>(d.channels) * d.height * d.width),
        out_image(static_cast<std::size_t>(oc) * plane) {}
  ConvDims d;
  int plane;              // output pixels per channel
  int patch;              // rows of the column matrix: C * K * K
  int oc;                 // output channels
  std::size_t in_image;   // floats of one input image
  std::size_t out_image;  // floats of one output image
};

}  // namespace

void CudaBackend::linear_forward(const float* x, const float* w, const float* bias, float* y,
                                 int batch, int in, int out, Activation act) {
  CHORUS_CHECK(batch > 0 && in > 0 && out > 0, "linear_forward: invalid shape");
  const int total =
      checked_int(static_cast<std::size_t>(batch) * out, "linear_forward: output too large");
  gemm(false, true, batch, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  const bool relu = act == Activation::relu;
  if (!bias && !relu) return;
  bias_activation_kernel<<<blocks_for(total), kThreads, 0, stream_>>>(y, bias, total, out, 1,
                                                                       relu);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::linear_backward(const float* x, const float* w, const float* y, float* dy,
                                  float* dx, float* dw, float* db, int batch, int in, int out,
                                  Activation act) {
  CHORUS_CHECK(batch > 0 && in > 0 && out > 0, "linear_backward: invalid shape");
  checked_int(static_cast<std::size_t>(batch) * out, "linear_backward: output too large");
  const bool relu = act == Activation::relu;
  if (relu || db) {
    mask_and_channel_sums_kernel<<<out, kThreads, 0, stream_>>>(dy, y, db, batch, out, 1, relu);
    CUDA_CHECK_LAUNCH();
  }
  gemm(true, false, out, in, batch, 1.0f, dy, out, x, in, 0.0f, dw, in);  // dW = dy^T x
  if (dx) gemm(false, false, batch, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);  // dx = dy W
}

void CudaBackend::conv2d_forward(const float* x, const float* w, const float* bias, float* y,
                                 const ConvShape& shape, Activation act, float* workspace) {
  check_conv(shape, workspace);
  const ConvSizes z(shape);
  const auto& [d, plane, patch, oc, in_image, out_image] = z;
  const std::size_t image_cols = static_cast<std::size_t>(patch) * plane;
  const int chunk = static_cast<int>(
      std::min<std::size_t>(shape.batch, shape.workspace_floats() / image_cols));
  CHORUS_CHECK(chunk >= 1, "conv2d_forward: workspace smaller than one image's columns");

  for (int n0 = 0; n0 < shape.batch; n0 += chunk) {
    const int images = std::min(chunk, shape.batch - n0);
    const int cols = images * patch * plane;
    im2col_kernel<<<blocks_for(cols), kThreads, 0, stream_>>>(x + n0 * in_image, workspace,
                                                              images, d, patch * plane, plane);
    CUDA_CHECK_LAUNCH();
    // y_n (OC, plane) = W (OC, patch) col_n (patch, plane), W shared by the chunk.
    gemm_strided_batched(false, false, oc, plane, patch, 1.0f, w, patch, 0, workspace, plane,
                         static_cast<long long>(image_cols), 0.0f, y + n0 * out_image, plane,
                         static_cast<long long>(out_image), images);
  }
  const bool relu = act == Activation::relu;
  if (!bias && !relu) return;
  const int total = shape.batch * oc * plane;
  bias_activation_kernel<<<blocks_for(total), kThreads, 0, stream_>>>(y, bias, total, oc, plane,
                                                                       relu);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::conv2d_backward(const float* x, const float* w, const float* y, float* dy,
                                  float* dx, float* dw, float* db, const ConvShape& shape,
                                  Activation act, float* workspace) {
  check_conv(shape, workspace);
  const ConvSizes z(shape);
  const auto& [d, plane, patch, oc, in_image, out_image] = z;
  const bool relu = act == Activation::relu;

  if (relu || db) {
    mask_and_channel_sums_kernel<<<oc, kThreads, 0, stream_>>>(dy, y, db, shape.batch, oc,
                                                                plane, relu);
    CUDA_CHECK_LAUNCH();
  }

  // Images per chunk: both the columns and the channel-major dy must fit.
  const std::size_t both = (static_cast<std::size_t>(patch) + oc) * plane;
  const std::size_t fit = shape.workspace_floats() / both;
  const int chunk = fit >= 2 ? static_cast<int>(std::min<std::size_t>(fit, shape.batch)) : 1;
  CHORUS_CHECK(shape.workspace_floats() >= static_cast<std::size_t>(patch) * plane,
               "conv2d_backward: workspace smaller than one image's columns");

  for (int n0 = 0; n0 < shape.batch; n0 += chunk) {
    const int images = std::min(chunk, shape.batch - n0);
    const int row = images * plane;  // columns of the chunk-wide matrices
    float* col = workspace;          // (patch, row)
    float* dy_chunk = dy + n0 * out_image;
    im2col_kernel<<<blocks_for(static_cast<std::size_t>(patch) * row), kThreads, 0, stream_>>>(
        x + n0 * in_image, col, images, d, plane, row);
    CUDA_CHECK_LAUNCH();
    // dy of the chunk as (OC, row); for a single image its batch-major layout already is.
    const float* dr = dy_chunk;
    if (chunk > 1) {
      float* result = workspace + static_cast<std::size_t>(patch) * row;
      to_channel_major_kernel<<<blocks_for(static_cast<std::size_t>(oc) * row), kThreads, 0,
                                stream_>>>(dy_chunk, result, images, oc, plane);
      CUDA_CHECK_LAUNCH();
      dr = result;
    }
    // dW (OC, patch) (+)= dr (OC, row) col^T (row, patch)
    gemm(false, true, oc, patch, row, 1.0f, dr, row, col, row, n0 == 0 ? 0.0f : 1.0f, dw, patch);
    if (dx) {
      // dcol (patch, row) = W^T (patch, OC) dr (OC, row), replacing the columns.
      gemm(true, false, patch, row, oc, 1.0f, w, patch, dr, row, 0.0f, col, row);
      const int dx_count = images * static_cast<int>(in_image);
      col2im_kernel<<<blocks_for(dx_count), kThreads, 0, stream_>>>(col, dx + n0 * in_image,
                                                                    images, d, plane, row);
      CUDA_CHECK_LAUNCH();
    }
  }
}

void CudaBackend::maxpool2d_forward(const float* x, float* y, std::int32_t* argmax,
                                    const PoolShape& s) {
  CHORUS_CHECK(s.batch > 0 && s.channels > 0 && s.window > 0 && s.out_height() > 0 &&
                   s.out_width() > 0,
               "maxpool2d_forward: invalid shape");
  const int planes = s.batch * s.channels;
  checked_int(static_cast<std::size_t>(planes) * s.height * s.width,
              "maxpool2d_forward: input too large for int32 indices");
  const int total = planes * s.out_height() * s.out_width();
  maxpool_forward_kernel<<<blocks_for(total), kThreads, 0, stream_>>>(
      x, y, argmax, planes, s.height, s.width, s.window, s.out_height(), s.out_width());
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::maxpool2d_backward(const float* dy, const std::int32_t* argmax, float* dx,
                                     const PoolShape& s) {
  CHORUS_CHECK(s.batch > 0 && s.channels > 0 && s.window > 0, "maxpool2d_backward: invalid shape");
  const int planes = s.batch * s.channels;
  const int total = checked_int(static_cast<std::size_t>(planes) * s.height * s.width,
                                "maxpool2d_backward: input too large for int32 indices");
  maxpool_backward_kernel<<<blocks_for(total), kThreads, 0, stream_>>>(
      dy, argmax, dx, planes, s.height, s.width, s.window, s.out_height(), s.out_width());
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::softmax_xent(const float* logits, const std::int32_t* labels, float* dlogits,
                               float* loss_out, float* correct_out, int batch, int classes) {
  CHORUS_CHECK(batch > 0 && classes > 0, "softmax_xent: invalid shape");
  checked_int(static_cast<std::size_t>(batch) * classes, "softmax_xent: logits too large");
  softmax_xent_kernel<<<1, kThreads, 0, stream_>>>(logits, labels, dlogits, loss_out,
                                                   correct_out, batch, classes);
  CUDA_CHECK_LAUNCH();
}

}  // namespace chorus
