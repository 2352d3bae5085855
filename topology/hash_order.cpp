// Hash order and the seeded shuffles built on splitmix64.
#include "topology/hash_order.h"

#include <algorithm>
#include <numeric>

namespace chorus {
namespace {

// Uniform-enough in [0, bound): the high half of a 128-bit product (bound > 0). Not
// SplitMix64::uniform_below (rejection sampling): every peer must draw the permutations it
// always drew, or peers of different builds would disagree on partners and graphs.
std::size_t below(SplitMix64& rng, std::size_t bound) {
  const unsigned __int128 product = static_cast<unsigned __int128>(rng.next()) * bound;
  return static_cast<std::size_t>(product >> 64);
}

}  // namespace

std::uint64_t peer_hash(PeerId id) { return splitmix64(id); }

std::vector<std::size_t> hash_order(const View& view) {
  std::vector<std::pair<std::uint64_t, std::size_t>> keyed;
  keyed.reserve(view.size());
  for (std::size_t i = 0; i < view.size(); ++i) keyed.emplace_back(peer_hash(view.members[i].id), i);
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::size_t> order;
  order.reserve(keyed.size());
  for (const auto& [hash, index] : keyed) order.push_back(index);
  return order;
}

std::vector<std::size_t> seeded_permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), std::size_t{0});
  SplitMix64 rng(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[below(rng, i)]);
  return p;
}

std::uint64_t round_seed(std::uint64_t round, std::uint64_t salt) {
  return splitmix64(splitmix64(salt) ^ round);
}

}  // namespace chorus
