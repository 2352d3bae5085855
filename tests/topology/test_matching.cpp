// Matchings: a round's pairs are a matching along that round's edges (nobody in two
// exchanges at once), every peer computes the same pairs, and the pairs rotate over rounds.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
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

bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

std::size_t unmatched(const Matching& m) {
  return static_cast<std::size_t>(std::count(m.begin(), m.end(), kNoPartner));
}

// Checks the matching property and that each pair is one of the round's edges.
void check_matching(const Matching& m, const Adjacency& round_edges) {
  const Adjacency both = undirected(round_edges);
  REQUIRE(m.size() == round_edges.size());
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == kNoPartner) continue;
    REQUIRE(m[i] < m.size());
    CHECK(m[i] != i);
    CHECK(m[m[i]] == i);  // nobody is in two pairs
    CHECK(std::binary_search(both[i].begin(), both[i].end(), m[i]));
  }
}

// Whether the graph promises a perfect-as-possible matching (all but N mod 2 paired).
bool promises_near_perfect(const GraphSpec& spec, std::size_t n) {
  if (spec.name == "ring" || spec.name == "complete" || spec.name == "random") return true;
  if (spec.name == "exponential") return is_power_of_two(n);
  return false;
}

}  // namespace

TEST_CASE("matchings are matchings along the round's edges, for every graph and N = 1..33") {
  chorus_test::TempDir dir("chorus-topology");
  const std::string file = write_sample_graph_file(dir);
  for (const GraphSpec& spec : all_graph_specs(file)) {
    const auto graph = spec.make();
    for (std::size_t n = 1; n <= 33; ++n) {
      const View base = spec.name == "file" ? small_id_view(n) : random_view(n, 900 + n);
      for (const View& view : {base, without(base, n / 2), with(base, 1000 + n)}) {
        for (std::uint64_t round = 0; round < 64; ++round) {
          INFO(spec.label, ", N = ", view.size(), ", round ", round);
          const Matching m = graph->matching(view, round);
          const Adjacency edges = graph->round_edges(view, round);
          check_matching(m, edges);
          if (promises_near_perfect(spec, view.size())) {
            CHECK(unmatched(m) == view.size() % 2);
          } else {
            // Maximal: no edge of the round joins two members that both sit out.
            for (std::size_t i = 0; i < view.size(); ++i)
              if (m[i] == kNoPartner)
                for (std::size_t j : edges[i]) CHECK(m[j] != kNoPartner);
          }
        }
      }
    }
  }
}

TEST_CASE("both ends of every pair agree: partner() from each peer's own copy of the view") {
  chorus_test::TempDir dir("chorus-topology");
  const std::string file = write_sample_graph_file(dir);
  for (const GraphSpec& spec : all_graph_specs(file)) {
    for (std::size_t n : {1, 2, 3, 8, 13, 32, 33}) {
      const View view = spec.name == "file" ? small_id_view(n) : random_view(n, 40 + n);
      for (std::uint64_t round : {0, 1, 5}) {
        INFO(spec.label, ", N = ", n, ", round ", round);
        std::map<PeerId, std::optional<PeerId>> answer;
        for (std::size_t peer = 0; peer < n; ++peer) {
          const View mine = copy_as_seen_by(view, peer);
          answer[view.members[peer].id] = partner(*spec.make(), mine, view.members[peer].id, round);
        }
        for (const auto& [self, other] : answer) {
          if (!other) continue;
          CHECK(*other != self);
          REQUIRE(answer.count(*other) == 1);
          CHECK(answer.at(*other) == std::optional<PeerId>(self));
        }
      }
    }
  }
  const View view = random_view(4, 1);
  CHECK_THROWS_AS((void)partner(*make_graph("ring"), view, 0xdead, 0), UserError);
}

TEST_CASE("pairs rotate: the ring uses every ring edge within N rounds, complete every pair") {
  const auto ring = make_graph("ring");
  for (std::size_t n = 2; n <= 33; ++n) {
    const View view = random_view(n, 60 + n);
    const Adjacency edges = ring->round_edges(view, 0);
    std::set<std::pair<std::size_t, std::size_t>> used;
    for (std::uint64_t round = 0; round < n; ++round) {
      const Matching m = ring->matching(view, round);
      for (std::size_t i = 0; i < n; ++i)
        if (m[i] != kNoPartner) used.insert({std::min(i, m[i]), std::max(i, m[i])});
    }
    std::size_t ring_edges = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j : edges[i]) ring_edges += i < j;
    INFO("N = ", n);
    CHECK(used.size() == ring_edges);
  }
  const auto complete = make_graph("complete");
  const View view = random_view(8, 3);
  std::set<std::pair<std::size_t, std::size_t>> used;
  std::set<Matching> distinct;
  for (std::uint64_t round = 0; round < 64; ++round) {
    const Matching m = complete->matching(view, round);
    distinct.insert(m);
    for (std::size_t i = 0; i < 8; ++i)
      if (m[i] != kNoPartner) used.insert({std::min(i, m[i]), std::max(i, m[i])});
  }
  CHECK(used.size() == 28);  // all 8*7/2 pairs met within 64 rounds
  CHECK(distinct.size() > 32);
}

TEST_CASE("the exponential matching is p xor 2^k when N is a power of two") {
  const auto graph = make_graph("exponential");
  for (std::size_t n : {2, 4, 8, 16, 32}) {
    const View view = random_view(n, 70 + n);
    const std::vector<std::size_t> order = hash_order(view);
    std::vector<std::size_t> position(n);
    for (std::size_t p = 0; p < n; ++p) position[order[p]] = p;
    std::size_t tau = 0;
    while ((std::size_t{1} << tau) < n) ++tau;
    for (std::uint64_t round = 0; round < 2 * tau; ++round) {
      const Matching m = graph->matching(view, round);
      const std::size_t hop = std::size_t{1} << (round % tau);
      for (std::size_t i = 0; i < n; ++i) CHECK(position[m[i]] == (position[i] ^ hop));
    }
  }
}
