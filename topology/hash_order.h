#pragma once
// Hash order: the one arrangement of a view's members that every graph and every grouping
// builds on. Members are ordered by a fixed hash of their id (splitmix64, never std::hash,
// so every build and every platform agrees), which places a joining member at a pseudo-random
// spot of the ring and leaves everybody else's relative order untouched.
//
// Round-dependent choices (random graphs, matchings) draw from seeded_permutation(), a
// Fisher–Yates shuffle driven by a splitmix64 stream, so the same seed gives the same
// permutation on every peer.
//
// Pure functions: no state, no blocking, safe from any thread.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "foundations/base/portable_rng.h"  // splitmix64, SplitMix64
#include "topology/view.h"

namespace chorus {

// The hash that places a peer in hash order: splitmix64(id). Distinct ids never collide.
std::uint64_t peer_hash(PeerId id);

// Indices into view.members, sorted by peer_hash of the member's id.
std::vector<std::size_t> hash_order(const View& view);

// A permutation of 0..n-1 that depends only on (n, seed).
std::vector<std::size_t> seeded_permutation(std::size_t n, std::uint64_t seed);

// A seed for round `round` of the choice named by `salt`; distinct salts give unrelated
// sequences, so two graphs never draw the same shuffle for the same round.
std::uint64_t round_seed(std::uint64_t round, std::uint64_t salt);

}  // namespace chorus
