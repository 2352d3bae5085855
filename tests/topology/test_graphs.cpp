// Graphs: every peer computes the same neighbours from the same view, for every graph and
// N = 1..33, including views that just lost or gained a member; the shapes match what each
// graph promises; the ring moves only the neighbours of who joined or left.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "foundations/base/error.h"
#include "tests/test_util.h"
#include "tests/topology/graph_specs.h"
#include "tests/topology/view_fixtures.h"
#include "topology/graph.h"
#include "topology/hash_order.h"

using namespace chorus;
using namespace topology_test;

namespace {

using IdAdjacency = std::map<PeerId, std::vector<PeerId>>;

IdAdjacency by_id(const View& view, const Adjacency& edges) {
  IdAdjacency out;
  for (std::size_t i = 0; i < view.size(); ++i) out[view.members[i].id] = ids_of(view, edges[i]);
  return out;
}

// The hash order computed here from the definition, not through hash_order().
std::vector<PeerId> ids_in_hash_order(const View& view) {
  std::vector<PeerId> ids;
  for (const Member& m : view.members) ids.push_back(m.id);
  std::sort(ids.begin(), ids.end(),
            [](PeerId a, PeerId b) { return peer_hash(a) < peer_hash(b); });
  return ids;
}

// The views each sweep visits: a base view of n, and that view after a leave (first, middle
// and last member) and after a join.
std::vector<std::pair<std::string, View>> views_around(std::size_t n, bool small_ids) {
  const View base = small_ids ? small_id_view(n) : random_view(n, 77 + n);
  std::vector<std::pair<std::string, View>> views = {{"base", base}};
  if (n >= 1) {
    for (std::size_t leaver : std::set<std::size_t>{0, n / 2, n - 1})
      views.emplace_back("leave " + std::to_string(leaver), without(base, leaver));
  }
  views.emplace_back("join", with(base, small_ids ? n + 1 : 0xfeedULL + n));
  return views;
}

void check_shape(const GraphSpec& spec, const Graph& graph, const View& view,
                 const Adjacency& edges) {
  const std::size_t n = view.size();
  REQUIRE(edges.size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& list = edges[i];
    CHECK(std::is_sorted(list.begin(), list.end()));
    CHECK(std::adjacent_find(list.begin(), list.end()) == list.end());
    for (std::size_t j : list) {
      CHECK(j < n);
      CHECK(j != i);
    }
  }
  if (!graph.directed()) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j : edges[i])
        CHECK(std::binary_search(edges[j].begin(), edges[j].end(), i));
  }
  std::vector<std::size_t> degree;
  for (const auto& list : edges) degree.push_back(list.size());
  if (n == 0) return;
  const std::size_t lo = *std::min_element(degree.begin(), degree.end());
  const std::size_t hi = *std::max_element(degree.begin(), degree.end());
  if (spec.name == "ring") {
    CHECK(lo == std::min<std::size_t>(2, n - 1));
    CHECK(hi == std::min<std::size_t>(2, n - 1));
  } else if (spec.name == "complete") {
    CHECK(lo == n - 1);
  } else if (spec.name == "exponential") {
    CHECK(lo == std::min<std::size_t>(1, n - 1));
    CHECK(hi == std::min<std::size_t>(1, n - 1));
  } else if (spec.name == "random") {
    const std::size_t k = spec.options.random_degree;
    if (k >= n - 1) {
      CHECK(lo == n - 1);
      CHECK(hi == n - 1);
    } else {
      CHECK(hi <= k);
      // Each draw pairs all but N mod 2 members, and with room enough no pair is dropped.
      std::size_t missing = 0;
      for (std::size_t d : degree) missing += k - d;
      if (n >= 2 * k + 2) CHECK(missing == (n % 2 == 1 ? k : 0));
    }
  } else if (spec.name == "torus") {
    CHECK(hi <= 4);
    if (n >= 2) CHECK(lo >= 1);
  } else if (spec.name == "file") {
    if (n >= 2) CHECK(lo >= 1);  // the ring fallback leaves nobody alone
  }
}

}  // namespace

TEST_CASE("peer_hash is splitmix64 and hash order sorts by it") {
  // The first two outputs of a splitmix64 generator seeded with 0.
  CHECK(splitmix64(0) == 0xE220A8397B1DCDAFULL);
  CHECK(splitmix64(0x9E3779B97F4A7C15ULL) == 0x6E789E6AA1B965F4ULL);
  CHECK(peer_hash(12345) == splitmix64(12345));
  const View view = random_view(20, 5);
  const std::vector<std::size_t> order = hash_order(view);
  std::vector<PeerId> ids;
  for (std::size_t i : order) ids.push_back(view.members[i].id);
  CHECK(ids == ids_in_hash_order(view));
  CHECK(ids != ids_of(view, order));  // hash order is not id order (ids_of sorts by id)
}

TEST_CASE("seeded permutations are permutations, repeatable, and differ between seeds") {
  for (std::size_t n : {0, 1, 2, 5, 33}) {
    const auto p = seeded_permutation(n, 9);
    auto sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < n; ++i) CHECK(sorted[i] == i);
    CHECK(p == seeded_permutation(n, 9));
  }
  CHECK(seeded_permutation(33, round_seed(1, 5)) != seeded_permutation(33, round_seed(2, 5)));
  CHECK(round_seed(3, 1) != round_seed(3, 2));
}

TEST_CASE("make_graph rejects unknown names and bad options with a UserError") {
  try {
    (void)make_graph("hypercube");
    FAIL("no error for an unknown graph");
  } catch (const UserError& e) {
    const std::string what = e.what();
    CHECK(what.find("hypercube") != std::string::npos);
    for (const std::string& name : graph_names()) CHECK(what.find(name) != std::string::npos);
  }
  GraphOptions zero;
  zero.random_degree = 0;
  CHECK_THROWS_AS((void)make_graph("random", zero), UserError);
  CHECK_THROWS_AS((void)make_graph("file"), UserError);
  for (const std::string& name : graph_names())
    if (name != "file") CHECK(make_graph(name)->name() == name);
}

TEST_CASE("every peer computes the same neighbours, for every graph, N = 1..33, joins and leaves") {
  chorus_test::TempDir dir("chorus-topology");
  const std::string file = write_sample_graph_file(dir);
  for (const GraphSpec& spec : all_graph_specs(file)) {
    const auto reference_graph = spec.make();
    for (std::size_t n = 1; n <= 33; ++n) {
      for (const auto& [what, view] : views_around(n, spec.name == "file")) {
        for (std::uint64_t round : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{6},
                                    std::uint64_t{1} << 40}) {
          INFO(spec.label, ", N = ", n, ", ", what, " (", view.size(), " members), round ", round);
          const Adjacency edges = reference_graph->round_edges(view, round);
          check_shape(spec, *reference_graph, view, edges);
          const IdAdjacency expected = by_id(view, edges);
          // Each peer: its own graph object and its own copy of the view.
          for (std::size_t peer = 0; peer < view.size(); ++peer) {
            const View mine = copy_as_seen_by(view, peer);
            const auto graph = spec.make();
            if (peer % 2 == 1) (void)graph->round_edges(mine, round + 3);  // no hidden state
            CHECK(by_id(mine, graph->round_edges(mine, round)) == expected);
            const int self = mine.index_of(view.members[peer].id);
            REQUIRE(self >= 0);
            const auto s = static_cast<std::size_t>(self);
            CHECK(ids_of(mine, graph->neighbours(mine, s, round)) ==
                  expected.at(view.members[peer].id));
          }
          // In-neighbours are the reversed edges: both ends agree on every directed edge.
          const Adjacency back = reversed(edges);
          for (std::size_t i = 0; i < view.size(); ++i)
            CHECK(reference_graph->in_neighbours(view, i, round) == back[i]);
        }
      }
    }
  }
}

TEST_CASE("the ring links hash-order neighbours; the exponential graph hops 2^(round mod τ)") {
  for (std::size_t n = 1; n <= 33; ++n) {
    const View view = random_view(n, 300 + n);
    const std::vector<PeerId> circle = ids_in_hash_order(view);
    const IdAdjacency ring = by_id(view, make_graph("ring")->round_edges(view, 0));
    const auto exponential = make_graph("exponential");
    std::size_t tau = 0;
    while ((std::size_t{1} << tau) < n) ++tau;
    for (std::size_t p = 0; p < n; ++p) {
      std::set<PeerId> expected;
      if (n >= 2) {
        expected.insert(circle[(p + 1) % n]);
        expected.insert(circle[(p + n - 1) % n]);
      }
      CHECK(ring.at(circle[p]) == std::vector<PeerId>(expected.begin(), expected.end()));
      for (std::uint64_t round = 0; round < 12 && n >= 2; ++round) {
        const IdAdjacency out = by_id(view, exponential->round_edges(view, round));
        const std::size_t hop = std::size_t{1} << (round % tau);
        CHECK(out.at(circle[p]) == std::vector<PeerId>{circle[(p + hop) % n]});
      }
    }
  }
}

TEST_CASE("the random graph draws new neighbours each round, the same for the same round") {
  GraphOptions o;
  o.random_degree = 4;
  const auto graph = make_graph("random", o);
  const View view = random_view(24, 11);
  std::set<IdAdjacency> seen;
  for (std::uint64_t round = 0; round < 10; ++round) {
    const IdAdjacency edges = by_id(view, graph->round_edges(view, round));
    CHECK(edges == by_id(view, graph->round_edges(view, round)));
    seen.insert(edges);
  }
  CHECK(seen.size() == 10);
  CHECK(graph->round_dependent());
  CHECK_FALSE(make_graph("ring")->round_dependent());
}

TEST_CASE("a join or leave changes only the ring neighbours of the member who joined or left") {
  const auto ring = make_graph("ring");
  for (std::size_t n = 1; n <= 33; ++n) {
    const View base = random_view(n, 500 + n);
    const IdAdjacency before = by_id(base, ring->round_edges(base, 0));
    // Every member leaving in turn.
    for (std::size_t leaver = 0; leaver < n; ++leaver) {
      const PeerId gone = base.members[leaver].id;
      const View after = without(base, leaver);
      const IdAdjacency now = by_id(after, ring->round_edges(after, 0));
      const std::vector<PeerId>& old_neighbours = before.at(gone);
      for (const auto& [id, neighbours] : now) {
        const bool was_neighbour =
            std::find(old_neighbours.begin(), old_neighbours.end(), id) != old_neighbours.end();
        INFO("N = ", n, ", ", gone, " left; member ", id);
        if (!was_neighbour) CHECK(neighbours == before.at(id));
        // The departed member's neighbours lose it.
        CHECK(std::find(neighbours.begin(), neighbours.end(), gone) == neighbours.end());
      }
    }
    // A join, at several places of the ring.
    for (PeerId joiner : {PeerId{0xabc}, PeerId{0x1234567}, PeerId{42} + n}) {
      const View after = with(base, joiner);
      const IdAdjacency now = by_id(after, ring->round_edges(after, 0));
      const std::vector<PeerId>& new_neighbours = now.at(joiner);
      CHECK(new_neighbours.size() == std::min<std::size_t>(2, n));
      for (const auto& [id, neighbours] : now) {
        if (id == joiner) continue;
        const bool is_neighbour =
            std::find(new_neighbours.begin(), new_neighbours.end(), id) != new_neighbours.end();
        INFO("N = ", n, ", ", joiner, " joined; member ", id);
        if (!is_neighbour) CHECK(neighbours == before.at(id));
      }
    }
  }
}
