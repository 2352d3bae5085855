#include "foundations/models/param_init.h"

namespace chorus {

void fill_uniform(float* out, std::size_t n, float bound, std::mt19937_64& rng) {
  constexpr float kInv24 = 1.0f / 16777216.0f;  // 2^-24: 24 random bits fill a float exactly
  for (std::size_t i = 0; i < n; ++i) {
    const float u = static_cast<float>(rng() >> 40) * kInv24;  // [0, 1)
    out[i] = (2.0f * u - 1.0f) * bound;
  }
}

}  // namespace chorus
