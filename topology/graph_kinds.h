#pragma once
// Private to topology/: the helpers the built-in graphs (graph_registry.h) share. Every
// function here is pure.
#include <memory>
#include <string>
#include <vector>

#include "topology/graph.h"

namespace chorus::topology_detail {

// Adds the undirected edge a-b (a != b) to `edges`.
void link(Adjacency& edges, std::size_t a, std::size_t b);

// Sorts every neighbour list and removes duplicates.
void normalize(Adjacency& edges);

// Each member of `circle` (member indices in circle order) linked to its predecessor and
// successor; `n` is the view size. One neighbour for a circle of 2, none for 1.
Adjacency circle_edges(const std::vector<std::size_t>& circle, std::size_t n);

// Pairs circle[o], circle[o+1]; circle[o+2], circle[o+3]; ... (positions mod circle size)
// for floor(size/2) pairs, o = offset mod size: a perfect-as-possible matching along the
// circle, the member before position o left out when the size is odd.
Matching circle_matching(const std::vector<std::size_t>& circle, std::size_t n,
                         std::uint64_t offset);

// A maximal matching along `edges` (either direction), edges taken in an order drawn from
// `seed` and the members' ids.
Matching greedy_matching(const View& view, const Adjacency& edges, std::uint64_t seed);

// Salts for round_seed(), one per kind of round-dependent choice.
inline constexpr std::uint64_t kSaltRandomGraph = 0x72616e646f6d;     // "random"
inline constexpr std::uint64_t kSaltCompleteMatch = 0x636f6d706c6574;  // "complet"
inline constexpr std::uint64_t kSaltGreedyMatch = 0x677265656479;     // "greedy"

}  // namespace chorus::topology_detail
