#pragma once
// Topology: which peers exchange with which, decided from the current view alone, so every
// peer computes the same answer without a coordinator.
//
// A Graph gives, for a view and a round number, every member's neighbours (as indices into
// view.members). Graphs whose edges change from round to round (random, exponential) derive
// them from the round number and the view only, so both ends of an edge agree on it. Edges
// are undirected (i lists j exactly when j lists i) except for the exponential graph, which
// is directed: i sends to neighbours(i) and receives from in_neighbours(i).
//
// Pairwise strategies (one exchange per peer at a time, e.g. Elastic Gossip) ask for a
// matching instead: matching() pairs members along this round's edges so that nobody is in
// two exchanges at once and pairwise exchanges cannot deadlock; partner() is the one-peer
// view of it. A member left unpaired (odd count, or the graph allows no partner) skips the
// round.
//
// Graphs built in (make_graph names):
//   ring         members in hash order (hash_order.h), each linked to its predecessor and
//                successor; a join or leave changes only the neighbours of that member and
//                of its two ring neighbours.
//   complete     everybody linked to everybody; the matching is a fresh seeded shuffle of
//                the hash order every round, consecutive pairs matched.
//   random       per round, k random neighbours (GraphOptions::random_degree): the union of
//                k draws, each the hash order shuffled with a seed from the round number and
//                consecutive members paired (a random perfect-as-possible matching). A pair
//                that repeats an earlier draw's edge swaps partners with another pair of its
//                draw; only when no swap works is it dropped, so a member can have fewer than
//                k neighbours when N is small next to k, and with odd N each draw leaves one
//                member out. k >= N-1 gives the complete graph. The matching is the first
//                draw.
//   exponential  the one-peer exponential graph: with τ = ceil(log2 N) and k = round mod τ,
//                hash position p sends to p + 2^k (mod N) and receives from p - 2^k.
//                Directed. Its matching pairs p with p + 2^k greedily in position order
//                (exactly p xor 2^k when N is a power of two).
//   torus        a 2-D grid on the hash order with wrap-around: rows x cols with rows the
//                largest divisor of N not above sqrt(N) when that grid is at most twice as
//                wide as tall, else cols = ceil(sqrt(N)) and a shorter last row. Each member
//                is linked to its neighbours on the cycle of its row and of its column
//                (degree 4 on a full grid of at least 3x3).
//   file         a user-given undirected edge list (GraphOptions::file): one edge per line,
//                "ADDR ADDR" (member addresses as in the view), '#' starts a comment. Edges
//                naming an address that is not in the view are ignored (warnings() lists
//                such addresses once). A member with no edge to another current member —
//                missing from the file, or whose file neighbours are all gone — is linked to
//                its two hash-ring neighbours instead (the ring fallback), so nobody is
//                isolated. Malformed lines throw UserError naming file:line.
//
// Threading: every Graph method is const and pure; one Graph may be used from any number of
// threads at once. Nothing blocks; only make_graph("file") reads a file.
// Errors: make_graph throws UserError for an unknown name (listing the valid ones), a bad
// option, or an unreadable/malformed graph file. Passing a member index outside the view is
// an invariant violation (CHORUS_CHECK).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topology/view.h"

namespace chorus {

// adjacency[i]: the members member i sends to, ascending, never i itself.
using Adjacency = std::vector<std::vector<std::size_t>>;

// matching[i]: the member paired with i this round, or kNoPartner. matching[matching[i]] == i.
using Matching = std::vector<std::size_t>;
inline constexpr std::size_t kNoPartner = static_cast<std::size_t>(-1);

class Graph {
 public:
  virtual ~Graph() = default;

  virtual std::string name() const = 0;
  // True when the edges depend on the round number.
  virtual bool round_dependent() const = 0;
  // True when edges are one-way (see the header comment); false: adjacency is symmetric.
  virtual bool directed() const { return false; }

  // Every member's out-neighbours in `round`.
  virtual Adjacency round_edges(const View& view, std::uint64_t round) const = 0;

  // A matching along this round's edges (either direction). The default pairs members
  // greedily along the round's edges in an order shuffled by the round's seed (a maximal
  // matching); graphs with a better structure override it.
  virtual Matching matching(const View& view, std::uint64_t round) const;

  // Problems worth telling the user about for this view (e.g. addresses in a graph file that
  // are not members); empty when there are none. Each problem is one line, listed once.
  virtual std::vector<std::string> warnings(const View& view) const;

  // The members `self` sends to in `round` (ascending indices into view.members).
  std::vector<std::size_t> neighbours(const View& view, std::size_t self,
                                      std::uint64_t round) const;
  // The members that send to `self` in `round`; equal to neighbours() unless directed().
  std::vector<std::size_t> in_neighbours(const View& view, std::size_t self,
                                         std::uint64_t round) const;
};

struct GraphOptions {
  std::size_t random_degree = 4;  // k of the random graph, at least 1
  std::string file;               // edge list of the file graph
};

// The graph called `name` (one of graph_names(): graph_registry.h).
std::unique_ptr<Graph> make_graph(std::string_view name, const GraphOptions& options = {});

// Names make_graph accepts, in the order the diagnostics list them.
std::vector<std::string> graph_names();

// The peer `self` exchanges with in `round` under graph.matching(), or nullopt when it sits
// this round out. Throws UserError when `self` is not a member of the view.
std::optional<PeerId> partner(const Graph& graph, const View& view, PeerId self,
                              std::uint64_t round);

// The addresses a graph file names, in the order they first appear (for building a view
// from the file alone, as `chorus topology --graph-file` does). Same errors as make_graph.
std::vector<std::string> graph_file_addresses(const std::string& path);

// Both directions of every edge: j in result[i] exactly when i->j or j->i.
Adjacency undirected(const Adjacency& edges);

// The reversed edges: j in result[i] exactly when i in edges[j].
Adjacency reversed(const Adjacency& edges);

}  // namespace chorus
