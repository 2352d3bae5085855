// The complete graph: everybody exchanges with everybody.
#include "topology/graph_kinds.h"
#include "topology/graph_registry.h"
#include "topology/hash_order.h"

namespace chorus::topology_detail {
namespace {

class CompleteGraph final : public Graph {
 public:
  std::string name() const override { return "complete"; }
  bool round_dependent() const override { return false; }

  Adjacency round_edges(const View& view, std::uint64_t) const override {
    const std::size_t n = view.size();
    Adjacency edges(n);
    for (std::size_t i = 0; i < n; ++i) {
      edges[i].reserve(n - 1);
      for (std::size_t j = 0; j < n; ++j)
        if (j != i) edges[i].push_back(j);
    }
    return edges;
  }

  // The hash order shuffled with the round's seed, consecutive members paired.
  Matching matching(const View& view, std::uint64_t round) const override {
    const std::vector<std::size_t> order = hash_order(view);
    const std::vector<std::size_t> shuffle =
        seeded_permutation(order.size(), round_seed(round, kSaltCompleteMatch));
    std::vector<std::size_t> circle(order.size());
    for (std::size_t p = 0; p < order.size(); ++p) circle[p] = order[shuffle[p]];
    return circle_matching(circle, view.size(), 0);
  }
};

const bool registered = graph_registry().add(
    {"complete", "everybody linked to everybody; a fresh random matching every round", 20,
     [](const GraphOptions&) -> std::unique_ptr<Graph> { return std::make_unique<CompleteGraph>(); }});

}  // namespace

}  // namespace chorus::topology_detail
