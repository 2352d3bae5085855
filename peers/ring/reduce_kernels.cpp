#include "peers/ring/reduce_kernels.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace chorus::ring {

void add(float* __restrict dst, const float* __restrict src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] += src[i];
}

void weigh_add(float* __restrict dst, float a, const float* __restrict src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = a * dst[i] + src[i];
}

void add_scale(float* __restrict dst, const float* __restrict src, float s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = (dst[i] + src[i]) * s;
}

void weigh_add_scale(float* __restrict dst, float a, const float* __restrict src, float s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = (a * dst[i] + src[i]) * s;
}

void scale(float* __restrict dst, float s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] *= s;
}

void combine(float* dst, float a, const float* src, float s, bool last, std::size_t n) {
  const bool weighted = a != 1.0f, scaled = last && s != 1.0f;
  if (!weighted && !scaled) add(dst, src, n);
  else if (!weighted) add_scale(dst, src, s, n);
  else if (!scaled) weigh_add(dst, a, src, n);
  else weigh_add_scale(dst, a, src, s, n);
}

bool all_finite(const float* data, std::size_t n) {
  constexpr std::uint32_t kExp = 0x7f800000u;
  constexpr std::size_t kBlock = 4096;
  for (std::size_t i = 0; i < n;) {
    const std::size_t end = i + kBlock < n ? i + kBlock : n;
    std::uint32_t bad = 0;
    for (; i < end; ++i) {
      std::uint32_t u;
      std::memcpy(&u, data + i, 4);
      bad |= static_cast<std::uint32_t>((u & kExp) == kExp);
    }
    if (bad) return false;
  }
  return true;
}

}  // namespace chorus::ring
