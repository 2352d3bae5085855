#pragma once
// A small pseudo-random generator whose output is fixed by this file alone, so shards and
// batch orders are the same on every platform, compiler and standard library.
//
// SplitMix64 (Steele, Lea, Flood 2014) gives the 64-bit stream; uniform_below() draws an
// unbiased integer in [0, bound) by rejection; shuffle() is Fisher-Yates over those draws.
// (std::uniform_int_distribution and std::shuffle are avoided: the standard does not
// specify their outputs.) Not thread-safe per object; objects are cheap, make one per use.
// Not for cryptography.
#include <cstdint>
#include <utility>
#include <vector>

namespace chorus {

// SplitMix64's increment: the state advances by it before every output.
inline constexpr std::uint64_t kSplitMix64Gamma = 0x9E3779B97F4A7C15ull;

// The SplitMix64 output function: a bijective 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The first value a SplitMix64 generator seeded with x returns: mix64(x + gamma). A
// bijection on 64-bit integers, and a counter-based generator: value i of a stream is
// splitmix64(seed ^ f(i)), computed without state in any order (the CPU and CUDA backends'
// Rademacher probes, hash order of peers). The CUDA backend's device copy
// (foundations/backends/cuda/cuda_optim.cu) must equal this function.
constexpr std::uint64_t splitmix64(std::uint64_t x) { return mix64(x + kSplitMix64Gamma); }

// A seed for an independent stream derived from (seed, stream); different streams of the
// same seed, and the same stream of different seeds, give unrelated sequences.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  return mix64(seed ^ splitmix64(stream));
}

class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed) : state_(seed) {}

  constexpr std::uint64_t next() {
    state_ += kSplitMix64Gamma;
    return mix64(state_);
  }

  // Uniform in [0, bound); bound must be at least 1. Rejects the few draws that would make
  // the modulo biased, so every value is exactly equally likely.
  constexpr std::uint64_t uniform_below(std::uint64_t bound) {
    // 2^64 mod bound: draws below it are rejected, leaving a multiple of bound values.
    const std::uint64_t reject_below = (0 - bound) % bound;
    for (;;) {
      const std::uint64_t x = next();
      if (x >= reject_below) return x % bound;
    }
  }

 private:
  std::uint64_t state_;
};

// Fisher-Yates shuffle of `v` driven by `rng`.
template <typename T>
void portable_shuffle(std::vector<T>& v, SplitMix64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(rng.uniform_below(i));
    std::swap(v[i - 1], v[j]);
  }
}

}  // namespace chorus
