// Metrics: SLEM against the closed forms (ring, complete, torus, exponential), diameters of
// known graphs, flooding rounds, and mixing matrices that are doubly stochastic.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "tests/test_util.h"
#include "tests/topology/graph_specs.h"
#include "tests/topology/view_fixtures.h"
#include "topology/graph.h"
#include "topology/topology_metrics.h"

using namespace chorus;
using namespace topology_test;

namespace {

constexpr double kPi = std::numbers::pi;

double ring_slem(std::size_t n) {
  if (n <= 2) return 0;  // one member, or two averaging fully with weights 1/2
  return (1 + 2 * std::cos(2 * kPi / static_cast<double>(n))) / 3;
}

// Eigenvalues of the r x c torus with weights 1/5: (1 + 2cos(2πa/r) + 2cos(2πb/c)) / 5.
double torus_slem(std::size_t r, std::size_t c) {
  double best = 0;
  for (std::size_t a = 0; a < r; ++a)
    for (std::size_t b = 0; b < c; ++b)
      if (a != 0 || b != 0)
        best = std::max(best, std::abs(1 + 2 * std::cos(2 * kPi * a / r) +
                                       2 * std::cos(2 * kPi * b / c)) / 5);
  return best;
}

// The one-peer exponential round with hop s: W = (I + P^s)/2, a circulant whose eigenvalues
// are (1 + e^(2πi js/N))/2, of modulus |cos(π js/N)|.
double exponential_slem(std::size_t n, std::size_t hop) {
  double best = 0;
  for (std::size_t j = 1; j < n; ++j)
    best = std::max(best, std::abs(std::cos(kPi * static_cast<double>(j * hop) / n)));
  return best;
}

Adjacency path(std::size_t n) {
  Adjacency edges(n);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    edges[i].push_back(i + 1);
    edges[i + 1].push_back(i);
  }
  for (auto& l : edges) std::sort(l.begin(), l.end());
  return edges;
}

}  // namespace

TEST_CASE("ring and complete SLEMs agree with the closed forms within 1e-9") {
  const auto ring = make_graph("ring");
  const auto complete = make_graph("complete");
  for (std::size_t n = 1; n <= 64; ++n) {
    const View view = random_view(n, 10 + n);
    INFO("N = ", n);
    const TopologyMetrics r = measure_topology(*ring, view);
    CHECK(std::abs(r.slem - ring_slem(n)) < 1e-9);
    CHECK(r.slem_per_round == r.slem);
    CHECK(std::abs(measure_topology(*complete, view).slem) < 1e-9);
  }
  // A larger one, through the same dense solver.
  const View big = random_view(300, 1);
  CHECK(std::abs(measure_topology(*ring, big).slem - ring_slem(300)) < 1e-9);
  CHECK(std::abs(measure_topology(*complete, big).slem) < 1e-9);
}

TEST_CASE("torus SLEMs agree with the closed form on full grids; diameters too") {
  struct Grid {
    std::size_t n, rows, cols;
  };
  const auto torus = make_graph("torus");
  for (const Grid g : {Grid{9, 3, 3}, Grid{12, 3, 4}, Grid{15, 3, 5}, Grid{16, 4, 4},
                       Grid{20, 4, 5}, Grid{25, 5, 5}, Grid{30, 5, 6}, Grid{64, 8, 8}}) {
    INFO("N = ", g.n);
    const TopologyMetrics m = measure_topology(*torus, random_view(g.n, g.n));
    CHECK(m.min_degree == 4);
    CHECK(m.max_degree == 4);
    CHECK(std::abs(m.slem - torus_slem(g.rows, g.cols)) < 1e-9);
    REQUIRE(m.diameter.has_value());
    CHECK(*m.diameter == g.rows / 2 + g.cols / 2);
  }
}

TEST_CASE("exponential rounds agree with the circulant closed form; τ rounds average exactly") {
  const auto graph = make_graph("exponential");
  for (std::size_t n = 3; n <= 40; ++n) {
    const View view = random_view(n, 20 + n);
    std::size_t tau = 0;
    while ((std::size_t{1} << tau) < n) ++tau;
    for (std::uint64_t round = 0; round < tau; ++round) {
      INFO("N = ", n, ", round ", round);
      const Eigen::MatrixXd w = mixing_matrix(graph->round_edges(view, round), true);
      CHECK(std::abs(slem(w) - exponential_slem(n, std::size_t{1} << round)) < 1e-9);
    }
    const TopologyMetrics m = measure_topology(*graph, view);
    CHECK(m.period == tau);
    CHECK(m.diameter_in_rounds);
    const bool power_of_two = (n & (n - 1)) == 0;
    INFO("N = ", n, ", slem/round ", m.slem_per_round);
    if (power_of_two) {
      CHECK(m.slem_per_round < 1e-6);
      REQUIRE(m.diameter.has_value());
      CHECK(*m.diameter == tau);  // each round doubles what everybody knows
    } else {
      CHECK(m.slem_per_round > 1e-3);
      CHECK(m.slem_per_round < 1);
    }
  }
}

TEST_CASE("diameters of known graphs") {
  CHECK(diameter(Adjacency{}) == std::optional<std::size_t>(0));
  CHECK(diameter(path(1)) == std::optional<std::size_t>(0));
  CHECK(diameter(path(2)) == std::optional<std::size_t>(1));
  CHECK(diameter(path(7)) == std::optional<std::size_t>(6));
  Adjacency star(6);
  for (std::size_t i = 1; i < 6; ++i) {
    star[0].push_back(i);
    star[i].push_back(0);
  }
  CHECK(diameter(star) == std::optional<std::size_t>(2));
  Adjacency split = path(3);
  split.push_back({});
  CHECK_FALSE(diameter(split).has_value());

  const auto ring = make_graph("ring");
  const auto complete = make_graph("complete");
  for (std::size_t n = 1; n <= 70; ++n) {
    const View view = random_view(n, 30 + n);
    INFO("N = ", n);
    CHECK(measure_topology(*ring, view).diameter == std::optional<std::size_t>(n / 2));
    CHECK(measure_topology(*complete, view).diameter ==
          std::optional<std::size_t>(n >= 2 ? 1 : 0));
    // For a static graph, flooding takes exactly the diameter in rounds.
    CHECK(flooding_rounds(*ring, view, 0, 1000) == std::optional<std::size_t>(n / 2));
  }
}

TEST_CASE("mixing matrices are doubly stochastic and non-negative for every graph") {
  chorus_test::TempDir dir("chorus-topology");
  const std::string file = write_sample_graph_file(dir);
  for (const GraphSpec& spec : all_graph_specs(file)) {
    const auto graph = spec.make();
    for (std::size_t n : {1, 2, 3, 7, 12, 33}) {
      const View view = spec.name == "file" ? small_id_view(n) : random_view(n, n);
      for (std::uint64_t round : {0, 3}) {
        INFO(spec.label, ", N = ", n, ", round ", round);
        const Eigen::MatrixXd w = mixing_matrix(graph->round_edges(view, round), graph->directed());
        CHECK(w.minCoeff() >= 0);
        CHECK((w.rowwise().sum().array() - 1).abs().maxCoeff() < 1e-12);
        CHECK((w.colwise().sum().array() - 1).abs().maxCoeff() < 1e-12);
        const double s = slem(w);
        CHECK(s >= 0);
        CHECK(s <= 1 + 1e-9);
        // Connected graphs mix. The static graphs here are connected by construction (the
        // file graph through its ring fallback); a round of random or exponential need not be.
        if (n >= 2 && !graph->round_dependent()) CHECK(s < 1 - 1e-6);
      }
    }
  }
}

TEST_CASE("synthetic views spread members over hosts") {
  const View one = synthetic_view(3);
  REQUIRE(one.size() == 3);
  CHECK(one.members[0].id == 1);
  CHECK(one.members[2].address == "tcp://127.0.0.1:7003");
  const View many = synthetic_view(5, 2);
  CHECK(many.members[0].address == "tcp://10.0.0.1:7001");
  CHECK(many.members[1].address == "tcp://10.0.0.2:7002");
  CHECK(many.members[2].address == "tcp://10.0.0.1:7003");
}
