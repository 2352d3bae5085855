#pragma once
// Topology metrics: degree, diameter and mixing speed of a graph on a view, for choosing a
// graph (`chorus topology`) and for testing graphs against known values.
//
// Mixing matrix W (x <- W x is one round of gossip averaging):
//   undirected graphs: Metropolis–Hastings weights, W_ij = 1 / (1 + max(deg i, deg j)) for
//     each edge, W_ii = 1 - sum of the row. Symmetric and doubly stochastic; on a d-regular
//     graph every weight is 1/(d+1) (ring: 1/3, complete: 1/N).
//   directed graphs (exponential): W_ij = 1 / (1 + in-degree of i) for j = i and every j
//     that sends to i. For the one-peer exponential graph that is the round's
//     W = (I + P_round)/2 — each member averages its value with the one it receives.
//
// SLEM (second-largest eigenvalue modulus) of W: the spectral radius of W - J, J the
// all-1/N matrix; it governs how fast averaging converges (the error shrinks about
// SLEM-fold per round), so smaller is faster, 0 is exact averaging in one round, and 1
// means some disagreement never decays (a disconnected graph). Computed with Eigen's
// SelfAdjointEigenSolver when W is symmetric; otherwise as the spectral norm ||W - J||,
// which equals the SLEM for normal matrices (the exponential graph's circulant W) and is
// the worst-case one-round contraction in general. Spectral gap = 1 - SLEM.
//
// Round-dependent graphs are also measured over τ rounds (τ = ceil(log2 N)): the per-round
// rate ||W_{τ-1} ... W_1 W_0 - J||^(1/τ), which for the exponential graph with N a power of
// two is 0 (its τ rounds average exactly). For static graphs it equals the SLEM.
//
// Diameter: the largest hop distance between two members of the undirected graph, nullopt
// if it is disconnected. For round-dependent graphs the diagnostics report instead the
// number of rounds, from round 0, until every member's value has reached every member
// (flooding_rounds), which is the diameter for a static graph.
//
// Pure functions; the dense eigen-solve is O(N^3) and dominates for large N (docs/topology.md
// has timings).
#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "topology/graph.h"
#include "topology/view.h"

namespace chorus {

// The mixing matrix of one round's edges (see above).
Eigen::MatrixXd mixing_matrix(const Adjacency& edges, bool directed);

// SLEM of a doubly stochastic matrix (see above); 0 for a 1x1 matrix.
double slem(const Eigen::MatrixXd& w);

// Diameter of an undirected graph; 0 for a single member, nullopt when disconnected.
std::optional<std::size_t> diameter(const Adjacency& undirected_edges);

// Rounds, starting at first_round, until every member's value has reached every member when
// each round each member passes all it knows along that round's edges (sender to receiver);
// nullopt if that takes more than max_rounds.
std::optional<std::size_t> flooding_rounds(const Graph& graph, const View& view,
                                           std::uint64_t first_round, std::size_t max_rounds);

struct TopologyMetrics {
  std::size_t members = 0;
  std::size_t min_degree = 0;  // out-degree in round 0
  std::size_t max_degree = 0;
  // Static graphs: diameter(); round-dependent ones: flooding_rounds() from round 0.
  std::optional<std::size_t> diameter;
  bool diameter_in_rounds = false;  // true: `diameter` counts rounds of a time-varying graph
  double slem = 0;                  // of round 0's mixing matrix
  std::size_t period = 1;           // τ: 1 for static graphs, ceil(log2 N) otherwise
  double slem_per_round = 0;        // ||W_{τ-1}..W_0 - J||^(1/τ); equals slem when static
};

TopologyMetrics measure_topology(const Graph& graph, const View& view);

// A view of n members for diagnostics and tests: ids 1..n, member i (from 0) listening on
// port 7001+i of host i mod hosts ("127.0.0.1" when hosts is 1, else "10.0.A.B" for host
// number h+1 = 256*A + B), view number 1.
View synthetic_view(std::size_t n, std::size_t hosts = 1);

}  // namespace chorus
