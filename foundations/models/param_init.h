#pragma once
// Parameter initialisation shared by the layers: uniform draws from the model's
// std::mt19937_64, computed with integer arithmetic only so that the same seed gives
// bit-identical parameters with any standard library and compiler.
#include <cstddef>
#include <random>

namespace chorus {

// Fills out[0..n) with values uniform in [-bound, bound), consuming n draws of rng.
void fill_uniform(float* out, std::size_t n, float bound, std::mt19937_64& rng);

}  // namespace chorus
