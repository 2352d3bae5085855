#include "foundations/data/shard_indices.h"

#include <fmt/format.h>

#include <cstdint>
#include <numeric>

#include "foundations/base/error.h"
#include "foundations/base/portable_rng.h"

namespace chorus {

namespace {
// Separates the shard permutation's random stream from the others drawn from the same seed.
constexpr std::uint64_t kShardStream = 0x5348415244ull;  // "SHARD"
}  // namespace

std::vector<std::uint32_t> shard_indices(std::size_t n, std::uint64_t seed, int index, int count) {
  if (count < 1)
    throw UserError(fmt::format("shard count {} is invalid: it must be at least 1", count));
  if (index < 0 || index >= count)
    throw UserError(fmt::format("shard index {} is out of range for {} shards (must be 0..{})",
                                index, count, count - 1));
  if (n > std::uint64_t{UINT32_MAX} + 1)
    throw UserError(fmt::format("a dataset of {} samples is too large to shard (at most 2^32)", n));

  std::vector<std::uint32_t> permutation(n);
  std::iota(permutation.begin(), permutation.end(), std::uint32_t{0});
  SplitMix64 rng(derive_seed(seed, kShardStream));
  portable_shuffle(permutation, rng);

  std::vector<std::uint32_t> shard;
  const auto stride = static_cast<std::size_t>(count);
  shard.reserve(n / stride + 1);
  for (std::size_t i = static_cast<std::size_t>(index); i < n; i += stride)
    shard.push_back(permutation[i]);
  return shard;
}

}  // namespace chorus
