// The gossip-family strategies when peers die or return stale: the leader fails over, the EASGD
// center survives its owner, nobody hangs on a dead partner, and dynamic weights keep a stale
// peer from dragging the others back.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <thread>

#include "tests/gossip/gossip_swarm.h"

using namespace gossip_test;

TEST_CASE("after the leader is killed every peer names the same new leader within one detection timeout") {
  auto o = options_for("lsgd");
  o.lambda = 0.1f;
  o.tau = 1;
  const std::size_t n = 4;
  Swarm swarm(n, o);
  const std::vector<std::size_t> order = ranked_by_loss(swarm);
  swarm.start_running({}, 5ms);
  auto everyone_names = [&](std::size_t who) {
    for (std::size_t i : swarm.live()) {
      const auto d = swarm.node(i).diagnostics();
      if (d["leader"].is_null() || d["leader"].get<PeerId>() != swarm.node(who).id()) return false;
    }
    return true;
  };
  auto until = Clock::now() + 5s;
  while (!everyone_names(order[0]) && Clock::now() < until) std::this_thread::sleep_for(10ms);
  REQUIRE(everyone_names(order[0]));
  const PeerId next = swarm.node(order[1]).id();
  const auto killed_at = Clock::now();
  swarm.kill(order[0]);
  // Loopback membership declares a crashed member dead within its suspicion timeout (3 s max)
  // plus a probe round.
  until = killed_at + 4500ms;
  bool agreed = false;
  while (Clock::now() < until) {
    agreed = true;
    for (std::size_t i : swarm.live()) {
      const auto d = swarm.node(i).diagnostics();
      if (d["leader"].is_null() || d["leader"].get<PeerId>() != next) agreed = false;
    }
    if (agreed) break;
    std::this_thread::sleep_for(10ms);
  }
  const double took = std::chrono::duration<double>(Clock::now() - killed_at).count();
  INFO("took " << took << " s");
  CHECK(agreed);
  // The new leader is no longer pulled; the others are pulled towards it. Pulls are counted
  // rather than timed: a loaded machine steps slowly, but every follower keeps being pulled.
  std::map<std::size_t, int> pulls_before;
  for (std::size_t i : swarm.live()) pulls_before[i] = swarm.node(i).diagnostics()["pulls"].get<int>();
  auto more = [&](std::size_t i) { return swarm.node(i).diagnostics()["pulls"].get<int>() - pulls_before[i]; };
  until = Clock::now() + 15s;
  auto followers_pulled = [&] {
    for (std::size_t i : swarm.live())
      if (i != order[1] && more(i) <= 3) return false;
    return true;
  };
  while (!followers_pulled() && Clock::now() < until) std::this_thread::sleep_for(10ms);
  for (std::size_t i : swarm.live()) {
    INFO("peer " << i);
    if (i == order[1])
      CHECK(more(i) == 0);
    else
      CHECK(more(i) > 3);
  }
}

TEST_CASE("the EASGD center survives the death of a shard owner") {
  auto o = options_for("easgd");
  o.alpha = 0.3f;
  o.tau = 1;
  const std::size_t n = 4;
  Swarm swarm(n, o);
  for (std::size_t i = 0; i < n; ++i) swarm.set_params(i, random_vector(swarm.node(i).x().size(), 70 + i));
  swarm.run(8, {});
  std::this_thread::sleep_for(200ms);  // replicas receive the owners' latest copies
  // shard -> (version, hash) at its owner; the owner of the most shards is killed.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> center;
  std::map<std::size_t, int> owned;
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& [k, s] : shards_of(swarm, i))
      if (s["owner"].get<bool>()) {
        center[k] = {s["version"].get<std::uint64_t>(), s["hash"].get<std::uint64_t>()};
        ++owned[i];
      }
  REQUIRE(center.size() == 16);
  std::size_t victim = 0;
  for (const auto& [i, c] : owned)
    if (c > owned[victim]) victim = i;
  REQUIRE(owned[victim] >= 1);
  swarm.kill(victim);
  REQUIRE(swarm.wait_for_views(n - 1, 6s));
  std::this_thread::sleep_for(200ms);  // the new owners take over and send new replicas
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> after;
  for (std::size_t i : swarm.live())
    for (const auto& [k, s] : shards_of(swarm, i))
      if (s["owner"].get<bool>()) after[k] = {s["version"].get<std::uint64_t>(), s["hash"].get<std::uint64_t>()};
  CHECK(after.size() == 16);
  for (const auto& [k, vh] : center) {
    INFO("shard " << k);
    REQUIRE(after.count(k));
    CHECK(after[k] == vh);  // same version, same bytes
  }
  // And training goes on against the surviving center.
  swarm.run(4, {});
  int versions_up = 0;
  for (std::size_t i : swarm.live())
    for (const auto& [k, s] : shards_of(swarm, i))
      if (s["owner"].get<bool>() && s["version"].get<std::uint64_t>() > center[k].first) ++versions_up;
  CHECK(versions_up == 16);
}

TEST_CASE("a dead peer costs a bounded delay, never a hang") {
  for (const char* name : {"elastic-gossip", "gossip", "easgd", "lsgd", "downpour"}) {
    SUBCASE(name) {
      auto o = options_for(name);
      o.tau = 1;
      const std::size_t n = 4;
      Swarm swarm(n, o);
      swarm.start_running({}, 2ms);
      std::this_thread::sleep_for(300ms);
      const auto killed = Clock::now();
      swarm.kill(2);
      // Once membership has declared it dead (about 1.5-3.5 s on loopback timings), every
      // survivor steps on.
      REQUIRE(swarm.wait_for_views(n - 1, 10s));
      MESSAGE(std::string(name) << ": dead after " << std::chrono::duration<double>(Clock::now() - killed).count() << " s");
      std::this_thread::sleep_for(300ms);
      std::map<std::size_t, std::int64_t> steps;
      for (std::size_t i : swarm.live()) steps[i] = swarm.node(i).strategy ? swarm.node(i).step : 0;
      std::this_thread::sleep_for(500ms);
      for (std::size_t i : swarm.live()) {
        INFO(std::string(name) << " peer " << i);
        CHECK(swarm.node(i).step > steps[i] + 20);
      }
    }
  }
}

namespace {

// Three current peers at 0 and a stale one at 1 on the complete graph on 4 (W = 1/4), after
// one average, by dynamic weighting off/on. Without weights each current peer moves a quarter
// of the way to the stale one; with them, by at most its (tiny) weight, and the stale peer is
// pulled (almost) all the way to the others.
void check_stale_peer_pulls(std::map<bool, std::vector<std::vector<float>>>& result) {
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(result[false][i][0] == doctest::Approx(0.25));
    CHECK(result[true][i][0] < 0.01);
    CHECK(result[true][i][0] > 0.0);
  }
  CHECK(result[false][3][0] == doctest::Approx(0.25));
  CHECK(result[true][3][0] < 0.01);
}

}  // namespace

TEST_CASE("dynamic weights keep a peer returning with stale parameters from dragging the others back") {
  const std::size_t n = 4;
  std::map<bool, std::vector<std::vector<float>>> result;
  for (bool dynamic : {false, true}) {
    auto o = options_for("gossip");
    o.gossip = "pull";
    o.graph = "complete";
    o.tau = 1;
    o.dynamic_weights = dynamic;
    Swarm swarm(n, o);
    // Three current peers at step 800 with parameters 0; peer 3 restarted from an old
    // checkpoint: step 300, parameters 1.
    for (std::size_t i = 0; i < n; ++i) {
      swarm.node(i).step = i == 3 ? 300 : 800;
      swarm.set_params(i, std::vector<float>(swarm.node(i).x().size(), i == 3 ? 1.0f : 0.0f));
    }
    swarm.run(1, {});
    for (std::size_t i = 0; i < n; ++i) result[dynamic].push_back(swarm.params(i));
  }
  check_stale_peer_pulls(result);
}

TEST_CASE("overlapped: a stale peer answered early moves the others by its dynamic weight only") {
  // As above, with --overlap 2 and the stale peer reaching the round first, so that the current
  // peers answer it early from their channel threads (docs/gossip.md, "Early answers").
  const std::size_t n = 4;
  std::map<bool, std::vector<std::vector<float>>> result;
  for (bool dynamic : {false, true}) {
    CAPTURE(dynamic);
    auto o = options_for("gossip");
    o.gossip = "pull";
    o.graph = "complete";
    o.tau = 1;
    o.overlap = 2;
    o.dynamic_weights = dynamic;
    Swarm swarm(n, o);
    for (std::size_t i = 0; i < n; ++i) {
      swarm.node(i).step = i == 3 ? 300 : 800;
      swarm.set_params(i, std::vector<float>(swarm.node(i).x().size(), 0.0f));
    }
    auto answered = [&] {
      int a = 0;
      for (std::size_t i = 0; i < 3; ++i) a += swarm.node(i).diagnostics()["answered_early"].get<int>();
      return a;
    };
    // Rounds of zeros (some answered early, harmlessly): every peer has published a snapshot.
    swarm.run(3, {}, 5ms);
    std::this_thread::sleep_for(100ms);  // the last of those merges complete
    const int before = answered();
    swarm.set_params(3, std::vector<float>(swarm.node(3).x().size(), 1.0f));
    swarm.step(3, {});  // its next round reaches the others before they get there
    const auto until = Clock::now() + 10s;
    while (answered() < before + 3 && Clock::now() < until) std::this_thread::sleep_for(5ms);
    REQUIRE(answered() == before + 3);
    for (std::size_t i = 0; i < 3; ++i) swarm.step(i, {});  // applies the early answers' halves
    swarm.finish_all();
    for (std::size_t i = 0; i < n; ++i) result[dynamic].push_back(swarm.params(i));
  }
  check_stale_peer_pulls(result);
}
