// Degree, diameter and SLEM of a graph on a view (see topology_metrics.h).
#include "topology/topology_metrics.h"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>

#include "foundations/base/error.h"

namespace chorus {
namespace {

// known[i]: which members' values member i has seen, as a bitset.
class Knowledge {
 public:
  explicit Knowledge(std::size_t n) : n_(n), words_((n + 63) / 64), bits_(n * words_, 0) {
    for (std::size_t i = 0; i < n; ++i) bits_[i * words_ + i / 64] |= std::uint64_t{1} << (i % 64);
  }
  // One round: every receiver learns all its senders knew before the round.
  void spread(const Adjacency& edges) {
    std::vector<std::uint64_t> next = bits_;
    for (std::size_t i = 0; i < n_; ++i)
      for (std::size_t j : edges[i])
        for (std::size_t w = 0; w < words_; ++w) next[j * words_ + w] |= bits_[i * words_ + w];
    bits_.swap(next);
  }
  bool complete() const {
    for (std::size_t i = 0; i < n_; ++i)
      for (std::size_t w = 0; w < words_; ++w) {
        const std::size_t bits_in_word = std::min<std::size_t>(64, n_ - 64 * w);
        const std::uint64_t full =
            bits_in_word == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits_in_word) - 1;
        if (bits_[i * words_ + w] != full) return false;
      }
    return true;
  }

 private:
  std::size_t n_;
  std::size_t words_;
  std::vector<std::uint64_t> bits_;
};

std::size_t period_of(std::size_t n) {
  std::size_t t = 0;
  while ((std::size_t{1} << t) < n) ++t;
  return std::max<std::size_t>(t, 1);
}

Eigen::SparseMatrix<double> sparse_mixing_matrix(const Adjacency& edges, bool directed) {
  const Eigen::MatrixXd dense = mixing_matrix(edges, directed);
  return dense.sparseView();
}

}  // namespace

Eigen::MatrixXd mixing_matrix(const Adjacency& edges, bool directed) {
  const auto n = static_cast<Eigen::Index>(edges.size());
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(n, n);
  if (directed) {
    const Adjacency in = reversed(edges);
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto& senders = in[static_cast<std::size_t>(i)];
      const double weight = 1.0 / static_cast<double>(senders.size() + 1);
      w(i, i) = weight;
      for (std::size_t j : senders) w(i, static_cast<Eigen::Index>(j)) = weight;
    }
    return w;
  }
  const Adjacency both = undirected(edges);
  for (Eigen::Index i = 0; i < n; ++i) {
    double off_diagonal = 0;
    const auto di = both[static_cast<std::size_t>(i)].size();
    for (std::size_t j : both[static_cast<std::size_t>(i)]) {
      const double weight = 1.0 / static_cast<double>(1 + std::max(di, both[j].size()));
      w(i, static_cast<Eigen::Index>(j)) = weight;
      off_diagonal += weight;
    }
    w(i, i) = 1.0 - off_diagonal;
  }
  return w;
}

double slem(const Eigen::MatrixXd& w) {
  CHORUS_CHECK(w.rows() == w.cols(), "a square mixing matrix");
  const Eigen::Index n = w.rows();
  if (n <= 1) return 0;
  const Eigen::MatrixXd a =
      w - Eigen::MatrixXd::Constant(n, n, 1.0 / static_cast<double>(n));
  const bool symmetric = (a - a.transpose()).cwiseAbs().maxCoeff() <= 1e-14;
  if (symmetric) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(a, Eigen::EigenvaluesOnly);
    CHORUS_CHECK(solver.info() == Eigen::Success, "eigenvalues of the mixing matrix");
    return solver.eigenvalues().cwiseAbs().maxCoeff();
  }
  const Eigen::MatrixXd gram = a.transpose() * a;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(gram, Eigen::EigenvaluesOnly);
  CHORUS_CHECK(solver.info() == Eigen::Success, "singular values of the mixing matrix");
  return std::sqrt(std::max(0.0, solver.eigenvalues().maxCoeff()));
}

std::optional<std::size_t> diameter(const Adjacency& undirected_edges) {
  const std::size_t n = undirected_edges.size();
  Knowledge known(n);
  for (std::size_t rounds = 0; rounds < std::max<std::size_t>(n, 1); ++rounds) {
    if (known.complete()) return rounds;
    known.spread(undirected_edges);
  }
  return std::nullopt;  // a connected graph has diameter at most n - 1
}

std::optional<std::size_t> flooding_rounds(const Graph& graph, const View& view,
                                           std::uint64_t first_round, std::size_t max_rounds) {
  Knowledge known(view.size());
  for (std::size_t rounds = 0;; ++rounds) {
    if (known.complete()) return rounds;
    if (rounds == max_rounds) return std::nullopt;
    known.spread(graph.round_edges(view, first_round + rounds));
  }
}

TopologyMetrics measure_topology(const Graph& graph, const View& view) {
  TopologyMetrics m;
  const std::size_t n = view.size();
  m.members = n;
  const Adjacency edges = graph.round_edges(view, 0);
  if (n > 0) {
    m.min_degree = n;
    for (const auto& list : edges) {
      m.min_degree = std::min(m.min_degree, list.size());
      m.max_degree = std::max(m.max_degree, list.size());
    }
  }
  m.slem = slem(mixing_matrix(edges, graph.directed()));
  if (!graph.round_dependent()) {
    m.diameter = diameter(undirected(edges));
    m.period = 1;
    m.slem_per_round = m.slem;
    return m;
  }
  m.period = period_of(n);
  m.diameter_in_rounds = true;
  m.diameter = flooding_rounds(graph, view, 0, 4 * n * m.period + 4);
  Eigen::MatrixXd product = Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(n),
                                                      static_cast<Eigen::Index>(n));
  for (std::size_t r = 0; r < m.period; ++r) {
    const Eigen::SparseMatrix<double> w =
        sparse_mixing_matrix(r == 0 ? edges : graph.round_edges(view, r), graph.directed());
    product = w * product;
  }
  m.slem_per_round = std::pow(slem(product), 1.0 / static_cast<double>(m.period));
  return m;
}

View synthetic_view(std::size_t n, std::size_t hosts) {
  CHORUS_CHECK(hosts >= 1, "at least one host");
  View view;
  view.number = 1;
  view.members.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t h = i % hosts + 1;
    const std::string host = hosts == 1 ? "127.0.0.1" : fmt::format("10.0.{}.{}", h / 256, h % 256);
    view.members.push_back({static_cast<PeerId>(i + 1), fmt::format("tcp://{}:{}", host, 7001 + i),
                            "", 0});
  }
  return view;
}

}  // namespace chorus
