// The random graph: per round, the union of k random matchings drawn from the round's seed
// (see graph.h).
#include <algorithm>
#include <utility>

#include "topology/graph_kinds.h"
#include "topology/graph_registry.h"
#include "topology/hash_order.h"

namespace chorus::topology_detail {
namespace {

using Pair = std::pair<std::size_t, std::size_t>;

bool has_edge(const Adjacency& edges, std::size_t a, std::size_t b) {
  return std::find(edges[a].begin(), edges[a].end(), b) != edges[a].end();
}

class RandomGraph final : public Graph {
 public:
  explicit RandomGraph(std::size_t degree) : degree_(degree) {}

  std::string name() const override { return "random"; }
  bool round_dependent() const override { return true; }

  Adjacency round_edges(const View& view, std::uint64_t round) const override {
    const std::size_t n = view.size();
    if (n >= 1 && degree_ >= n - 1) return complete_->round_edges(view, round);
    const std::vector<std::size_t> order = hash_order(view);
    Adjacency edges(n);
    for (std::size_t draw = 0; draw < degree_; ++draw) {
      std::vector<Pair> pairs = drawn_pairs(order, round, draw);
      for (std::size_t t = 0; t < pairs.size(); ++t) {
        if (!has_edge(edges, pairs[t].first, pairs[t].second)) continue;
        if (!repair(edges, pairs, t)) pairs[t] = {kNoPartner, kNoPartner};
      }
      for (const auto& [a, b] : pairs)
        if (a != kNoPartner) link(edges, a, b);
    }
    normalize(edges);
    return edges;
  }

  // The first draw: every member but (N mod 2) paired, and all its pairs are edges.
  Matching matching(const View& view, std::uint64_t round) const override {
    const std::size_t n = view.size();
    if (n >= 1 && degree_ >= n - 1) return complete_->matching(view, round);
    Matching m(n, kNoPartner);
    for (const auto& [a, b] : drawn_pairs(hash_order(view), round, 0)) {
      m[a] = b;
      m[b] = a;
    }
    return m;
  }

 private:
  // Draw number `draw` of the round: the hash order shuffled, consecutive members paired.
  static std::vector<Pair> drawn_pairs(const std::vector<std::size_t>& order,
                                       std::uint64_t round, std::size_t draw) {
    const std::vector<std::size_t> shuffle =
        seeded_permutation(order.size(), round_seed(round, kSaltRandomGraph + draw));
    std::vector<Pair> pairs;
    for (std::size_t p = 0; p + 1 < order.size(); p += 2)
      pairs.emplace_back(order[shuffle[p]], order[shuffle[p + 1]]);
    return pairs;
  }

  // Pair t repeats an edge of an earlier draw: exchange partners with the first other pair
  // (in draw order after t) for which both new pairs are new edges. False if none is.
  static bool repair(const Adjacency& edges, std::vector<Pair>& pairs, std::size_t t) {
    const auto [a, b] = pairs[t];
    for (std::size_t step = 1; step < pairs.size(); ++step) {
      const std::size_t u = (t + step) % pairs.size();
      const auto [c, d] = pairs[u];
      if (c == kNoPartner) continue;
      if (!has_edge(edges, a, d) && !has_edge(edges, c, b)) {
        pairs[t] = {a, d};
        pairs[u] = {c, b};
        return true;
      }
      if (!has_edge(edges, a, c) && !has_edge(edges, b, d)) {
        pairs[t] = {a, c};
        pairs[u] = {b, d};
        return true;
      }
    }
    return false;
  }

  std::size_t degree_;
  std::unique_ptr<Graph> complete_ = make_graph("complete");
};

const bool registered = graph_registry().add(
    {"random", "per round, k random neighbours (--graph-degree)", 30,
     [](const GraphOptions& o) -> std::unique_ptr<Graph> {
       if (o.random_degree < 1) throw UserError("random graph degree must be at least 1");
       return std::make_unique<RandomGraph>(o.random_degree);
     }});

}  // namespace

}  // namespace chorus::topology_detail
