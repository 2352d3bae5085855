// Optimizer updates of the CUDA backend: one elementwise kernel per update over the flat
// buffers, the same arithmetic in the same order as foundations/backends/cpu/cpu_optim.cpp (host-side
// constants such as Adam's bias corrections are computed exactly as there). Results agree with
// the CPU to a few float ulps (the GPU may fuse a multiply-add); rademacher() is bit-identical.
#include <cmath>

#include "foundations/backends/cuda/cuda_backend_impl.h"
#include "foundations/backends/cuda/cuda_check.h"
#include "foundations/backends/cuda/cuda_launch.h"

namespace chorus {

using cuda_detail::blocks_for;
using cuda_detail::kThreads;

namespace {

#define CHORUS_GRID_STRIDE_LOOP(i, n)                                                    \
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < (n); \
       i += std::size_t{gridDim.x} * blockDim.x)

__global__ void sgd_plain_kernel(float* __restrict__ params, const float* __restrict__ grads,
                                 std::size_t n, float lr, float wd) {
  CHORUS_GRID_STRIDE_LOOP(i, n) params[i] -= lr * (grads[i] + wd * params[i]);
}

__global__ void sgd_momentum_kernel(float* __restrict__ params, const float* __restrict__ grads,
                                    float* __restrict__ velocity, std::size_t n, float lr,
                                    float mu, float wd, bool nesterov) {
  CHORUS_GRID_STRIDE_LOOP(i, n) {
    const float g = grads[i] + wd * params[i];
    const float v = mu * velocity[i] + g;
    velocity[i] = v;
    params[i] -= nesterov ? lr * (g + mu * v) : lr * v;
  }
}

// second is the hessian estimate (AdaHessian) or the gradient itself (Adam).
__global__ void adam_kernel(float* __restrict__ params, const float* __restrict__ grads,
                            const float* __restrict__ second, float* __restrict__ m,
                            float* __restrict__ v, std::size_t n, float b1, float b2, float c1,
                            float c2, float lr, float eps, float decay) {
  CHORUS_GRID_STRIDE_LOOP(i, n) {
    const float g = grads[i];
    const float s = second[i];
    const float mi = b1 * m[i] + (1.0f - b1) * g;
    const float vi = b2 * v[i] + (1.0f - b2) * s * s;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] * decay - lr * (mi * c1) / (sqrtf(vi * c2) + eps);
  }
}

// Device code: must equal chorus::splitmix64 (foundations/base/portable_rng.h), which the CPU
// backend's probes use, so both backends draw the same Rademacher vectors for (seed, i).
__device__ inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

__global__ void rademacher_kernel(float* __restrict__ out, std::size_t n, std::uint64_t seed) {
  CHORUS_GRID_STRIDE_LOOP(i, n) {
    const std::uint64_t index = i;
    out[i] = (splitmix64(seed ^ (0xD1B54A32D192ED03ull * (index + 1))) >> 63) ? 1.0f : -1.0f;
  }
}

__global__ void hutchinson_kernel(const float* __restrict__ v, const float* __restrict__ g_plus,
                                  const float* __restrict__ g, float inv_eps,
                                  float* __restrict__ out, std::size_t n) {
  CHORUS_GRID_STRIDE_LOOP(i, n) out[i] = v[i] * (g_plus[i] - g[i]) * inv_eps;
}

#undef CHORUS_GRID_STRIDE_LOOP

}  // namespace

void CudaBackend::sgd_step(float* params, const float* grads, float* velocity, std::size_t n,
                           const SgdHyper& h) {
  if (n == 0) return;
  if (h.momentum == 0.0f) {
    sgd_plain_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(params, grads, n, h.lr,
                                                              h.weight_decay);
  } else {
    sgd_momentum_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(
        params, grads, velocity, n, h.lr, h.momentum, h.weight_decay, h.nesterov);
  }
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::adam_step(float* params, const float* grads, const float* hessian, float* m,
                            float* v, std::size_t n, const AdamHyper& h) {
  if (n == 0) return;
  const double t = static_cast<double>(h.step);
  const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(h.beta1), t)));
  const float c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(h.beta2), t)));
  const float decay = 1.0f - h.lr * h.weight_decay;
  adam_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(params, grads, hessian ? hessian : grads,
                                                       m, v, n, h.beta1, h.beta2, c1, c2, h.lr,
                                                       h.eps, decay);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::rademacher(float* out, std::size_t n, std::uint64_t seed) {
  if (n == 0) return;
  rademacher_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(out, n, seed);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::hutchinson(const float* v, const float* g_plus, const float* g, float eps,
                             float* out, std::size_t n) {
  if (n == 0) return;
  const float inv = 1.0f / eps;
  hutchinson_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(v, g_plus, g, inv, out, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace chorus
