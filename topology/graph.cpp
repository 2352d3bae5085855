// The Graph base: neighbour queries, the default matching, partner(), edge helpers.
#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "foundations/base/error.h"
#include "topology/graph_kinds.h"
#include "topology/hash_order.h"

namespace chorus {

using topology_detail::greedy_matching;
using topology_detail::kSaltGreedyMatch;

Matching Graph::matching(const View& view, std::uint64_t round) const {
  return greedy_matching(view, round_edges(view, round), round_seed(round, kSaltGreedyMatch));
}

std::vector<std::string> Graph::warnings(const View&) const { return {}; }

std::vector<std::size_t> Graph::neighbours(const View& view, std::size_t self,
                                           std::uint64_t round) const {
  CHORUS_CHECK(self < view.size(), fmt::format("member {} of a view of {}", self, view.size()));
  Adjacency edges = round_edges(view, round);
  return std::move(edges[self]);
}

std::vector<std::size_t> Graph::in_neighbours(const View& view, std::size_t self,
                                              std::uint64_t round) const {
  CHORUS_CHECK(self < view.size(), fmt::format("member {} of a view of {}", self, view.size()));
  Adjacency edges = round_edges(view, round);
  if (!directed()) return std::move(edges[self]);
  std::vector<std::size_t> in;
  for (std::size_t i = 0; i < edges.size(); ++i)
    if (std::binary_search(edges[i].begin(), edges[i].end(), self)) in.push_back(i);
  return in;
}

std::optional<PeerId> partner(const Graph& graph, const View& view, PeerId self,
                              std::uint64_t round) {
  const int index = view.index_of(self);
  if (index < 0)
    throw UserError(fmt::format("peer {:016x} is not a member of view {}", self, view.number));
  const Matching m = graph.matching(view, round);
  CHORUS_CHECK(m.size() == view.size(), "matching covers the view");
  const std::size_t other = m[static_cast<std::size_t>(index)];
  if (other == kNoPartner) return std::nullopt;
  return view.members[other].id;
}

Adjacency undirected(const Adjacency& edges) {
  Adjacency both = edges;
  for (std::size_t i = 0; i < edges.size(); ++i)
    for (std::size_t j : edges[i]) both[j].push_back(i);
  topology_detail::normalize(both);
  return both;
}

Adjacency reversed(const Adjacency& edges) {
  Adjacency back(edges.size());
  for (std::size_t i = 0; i < edges.size(); ++i)
    for (std::size_t j : edges[i]) back[j].push_back(i);
  topology_detail::normalize(back);
  return back;
}

namespace topology_detail {

void link(Adjacency& edges, std::size_t a, std::size_t b) {
  CHORUS_CHECK(a != b, "no self-loops");
  edges[a].push_back(b);
  edges[b].push_back(a);
}

void normalize(Adjacency& edges) {
  for (auto& list : edges) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
}

Adjacency circle_edges(const std::vector<std::size_t>& circle, std::size_t n) {
  Adjacency edges(n);
  const std::size_t size = circle.size();
  if (size == 2) link(edges, circle[0], circle[1]);
  if (size >= 3)
    for (std::size_t p = 0; p < size; ++p) link(edges, circle[p], circle[(p + 1) % size]);
  normalize(edges);
  return edges;
}

Matching circle_matching(const std::vector<std::size_t>& circle, std::size_t n,
                         std::uint64_t offset) {
  Matching m(n, kNoPartner);
  const std::size_t size = circle.size();
  if (size < 2) return m;
  const std::size_t start = static_cast<std::size_t>(offset % size);
  for (std::size_t t = 0; t < size / 2; ++t) {
    const std::size_t a = circle[(start + 2 * t) % size];
    const std::size_t b = circle[(start + 2 * t + 1) % size];
    m[a] = b;
    m[b] = a;
  }
  return m;
}

Matching greedy_matching(const View& view, const Adjacency& edges, std::uint64_t seed) {
  const std::size_t n = view.size();
  // Each undirected edge once, keyed by a hash of the seed and both ids so that the order
  // depends on who the members are, not on where they sit in the view.
  std::vector<std::tuple<std::uint64_t, std::size_t, std::size_t>> keyed;
  const Adjacency both = undirected(edges);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j : both[i])
      if (i < j) {
        const std::uint64_t key = splitmix64(seed ^ splitmix64(view.members[i].id) ^
                                             (splitmix64(view.members[j].id) * 3));
        keyed.emplace_back(key, i, j);
      }
  std::sort(keyed.begin(), keyed.end());
  Matching m(n, kNoPartner);
  for (const auto& [key, a, b] : keyed)
    if (m[a] == kNoPartner && m[b] == kNoPartner) {
      m[a] = b;
      m[b] = a;
    }
  return m;
}

}  // namespace topology_detail
}  // namespace chorus
