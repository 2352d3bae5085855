// The one-peer exponential graph: in round r, hash position p sends to p + 2^(r mod τ).
#include "topology/graph_kinds.h"
#include "topology/graph_registry.h"
#include "topology/hash_order.h"

namespace chorus::topology_detail {
namespace {

// τ = ceil(log2 n): the number of distinct hops 1, 2, 4, ... below n.
std::size_t period(std::size_t n) {
  std::size_t t = 0;
  while ((std::size_t{1} << t) < n) ++t;
  return t;
}

class ExponentialGraph final : public Graph {
 public:
  std::string name() const override { return "exponential"; }
  bool round_dependent() const override { return true; }
  bool directed() const override { return true; }

  Adjacency round_edges(const View& view, std::uint64_t round) const override {
    const std::size_t n = view.size();
    Adjacency edges(n);
    if (n < 2) return edges;
    const std::vector<std::size_t> order = hash_order(view);
    const std::size_t hop = hop_of(n, round);
    for (std::size_t p = 0; p < n; ++p) edges[order[p]].push_back(order[(p + hop) % n]);
    return edges;
  }

  // Positions paired with p + hop, greedily in position order.
  Matching matching(const View& view, std::uint64_t round) const override {
    const std::size_t n = view.size();
    Matching m(n, kNoPartner);
    if (n < 2) return m;
    const std::vector<std::size_t> order = hash_order(view);
    const std::size_t hop = hop_of(n, round);
    for (std::size_t p = 0; p < n; ++p) {
      const std::size_t a = order[p];
      const std::size_t b = order[(p + hop) % n];
      if (m[a] == kNoPartner && m[b] == kNoPartner) {
        m[a] = b;
        m[b] = a;
      }
    }
    return m;
  }

 private:
  static std::size_t hop_of(std::size_t n, std::uint64_t round) {
    return std::size_t{1} << static_cast<std::size_t>(round % period(n));
  }
};

const bool registered = graph_registry().add(
    {"exponential", "one-peer exponential graph: position p sends to p + 2^(round mod log2 N)", 40,
     [](const GraphOptions&) -> std::unique_ptr<Graph> { return std::make_unique<ExponentialGraph>(); }});

}  // namespace

}  // namespace chorus::topology_detail
