// Optimizer updates of the CPU backend: elementwise loops over the flat buffers, written so
// GCC vectorises them (no aliasing between the buffers by contract).
#include <cmath>

#include "foundations/backends/cpu/cpu_backend.h"
#include "foundations/base/portable_rng.h"

namespace chorus {

void CpuBackend::sgd_step(float* __restrict params, const float* __restrict grads,
                          float* __restrict velocity, std::size_t n, const SgdHyper& h) {
  const float lr = h.lr, mu = h.momentum, wd = h.weight_decay;
  if (mu == 0.0f) {
    for (std::size_t i = 0; i < n; ++i) params[i] -= lr * (grads[i] + wd * params[i]);
    return;
  }
  if (h.nesterov) {
    for (std::size_t i = 0; i < n; ++i) {
      const float g = grads[i] + wd * params[i];
      const float v = mu * velocity[i] + g;
      velocity[i] = v;
      params[i] -= lr * (g + mu * v);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const float g = grads[i] + wd * params[i];
      const float v = mu * velocity[i] + g;
      velocity[i] = v;
      params[i] -= lr * v;
    }
  }
}

void CpuBackend::adam_step(float* __restrict params, const float* __restrict grads,
                           const float* __restrict hessian, float* __restrict m,
                           float* __restrict v, std::size_t n, const AdamHyper& h) {
  const float b1 = h.beta1, b2 = h.beta2;
  const double t = static_cast<double>(h.step);
  const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(b1), t)));
  const float c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(b2), t)));
  const float lr = h.lr, eps = h.eps, decay = 1.0f - h.lr * h.weight_decay;
  const float* __restrict second = hessian ? hessian : grads;
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    const float s = second[i];
    const float mi = b1 * m[i] + (1.0f - b1) * g;
    const float vi = b2 * v[i] + (1.0f - b2) * s * s;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] * decay - lr * (mi * c1) / (std::sqrt(vi * c2) + eps);
  }
}

// splitmix64 is counter-based, so element i's value depends only on (seed, i) and the CUDA
// backend produces the same probes.
void CpuBackend::rademacher(float* out, std::size_t n, std::uint64_t seed) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = (splitmix64(seed ^ (0xD1B54A32D192ED03ull * (i + 1))) >> 63) ? 1.0f : -1.0f;
}

void CpuBackend::hutchinson(const float* __restrict v, const float* __restrict g_plus,
                            const float* __restrict g, float eps, float* __restrict out,
                            std::size_t n) {
  const float inv = 1.0f / eps;
  for (std::size_t i = 0; i < n; ++i) out[i] = v[i] * (g_plus[i] - g[i]) * inv;
}

}  // namespace chorus
