#pragma once
// Deterministic sharding: which samples each of the peers trains on.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace chorus {

// The indices of shard `index` of `count` over a dataset of n samples: a permutation of
// 0..n-1 seeded by `seed`, dealt round-robin. Shards are disjoint, cover every sample
// exactly once, differ in size by at most one, and depend only on (n, seed, index, count).
std::vector<std::uint32_t> shard_indices(std::size_t n, std::uint64_t seed, int index,
                                         int count);

}  // namespace chorus
