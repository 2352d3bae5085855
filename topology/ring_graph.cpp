// The ring: members in hash order, each linked to its two ring neighbours.
#include "topology/graph_kinds.h"
#include "topology/graph_registry.h"
#include "topology/hash_order.h"

namespace chorus::topology_detail {
namespace {

class RingGraph final : public Graph {
 public:
  std::string name() const override { return "ring"; }
  bool round_dependent() const override { return false; }

  Adjacency round_edges(const View& view, std::uint64_t) const override {
    return circle_edges(hash_order(view), view.size());
  }

  // Pairs along the ring starting at position `round mod N`: every ring edge is used within
  // N consecutive rounds, and all but (N mod 2) members are paired every round.
  Matching matching(const View& view, std::uint64_t round) const override {
    return circle_matching(hash_order(view), view.size(), round);
  }
};

const bool registered = graph_registry().add(
    {"ring", "members in hash order, each linked to its predecessor and successor", 10,
     [](const GraphOptions&) -> std::unique_ptr<Graph> { return std::make_unique<RingGraph>(); }});

}  // namespace

}  // namespace chorus::topology_detail
