// Hash order and the seeded shuffles built on splitmix64.
#include "topology/hash_order.h"

#include <algorithm>
#include <numeric>

namespace chorus {
namespace {

constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The splitmix64 generator: each call advances the state by the golden gamma.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ += kGoldenGamma;
    return mix(state_);
  }
  // Uniform-enough in [0, bound): the high half of a 128-bit product (bound > 0).
  std::size_t below(std::size_t bound) {
    const unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
    return static_cast<std::size_t>(product >> 64);
  }

 private:
  std::uint64_t state_;
};

}  // namespace

std::uint64_t splitmix64(std::uint64_t x) { return mix(x + kGoldenGamma); }

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
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.below(i)]);
  return p;
}

std::uint64_t round_seed(std::uint64_t round, std::uint64_t salt) {
  return splitmix64(splitmix64(salt) ^ round);
}

}  // namespace chorus
