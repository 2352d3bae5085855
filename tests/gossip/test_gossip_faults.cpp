// The gossip-family strategies when peers die or return stale: the leader fails over, the EASGD
// center survives its owner, nobody hangs on a dead partner, and dynamic weights keep a stale
// peer from dragging the others back.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <thread>

#include "tests/gossip/gossip_swarm.h"
#include "tests/test_util.h"

using namespace gossip_test;
using chorus_test::eventually;

TEST_CASE("after the leader is killed every peer names the same new leader within one detection timeout") {
  const std::size_t n = 4;
  Swarm swarm(n, {.name = "lsgd", .tau = 1, .lambda = 0.1f});
  const std::vector<std::size_t> order = ranked_by_loss(swarm);
  swarm.start_running({}, 5ms);
  auto everyone_names = [&](PeerId leader) {
    for (std::size_t i : swarm.live()) {
      const auto d = swarm.node(i).diagnostics();
      if (d["leader"].is_null() || d["leader"].get<PeerId>() != leader) return false;
    }
    return true;
  };
  const PeerId first = swarm.node(order[0]).id();
  eventually(5s, [&] { return everyone_names(first); }, 10ms);
  REQUIRE(everyone_names(first));
  const PeerId next = swarm.node(order[1]).id();
  const auto killed_at = Clock::now();
  swarm.kill(order[0]);
  // Loopback membership declares a crashed member dead within its suspicion timeout (3 s max)
  // plus a probe round; a check begun after that does not count.
  const auto deadline = killed_at + 4500ms;
  const bool agreed = eventually(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()),
                                 [&] { return Clock::now() < deadline && everyone_names(next); }, 10ms);
  const double took = std::chrono::duration<double>(Clock::now() - killed_at).count();
  INFO("took " << took << " s");
  CHECK(agreed);
  // The new leader is no longer pulled; the others are pulled towards it. Pulls are counted
  // rather than timed: a loaded machine steps slowly, but every follower keeps being pulled.
  std::map<std::size_t, int> pulls_before;
  for (std::size_t i : swarm.live()) pulls_before[i] = swarm.node(i).diagnostics()["pulls"].get<int>();
  auto more = [&](std::size_t i) { return swarm.node(i).diagnostics()["pulls"].get<int>() - pulls_before[i]; };
  eventually(15s, [&] {
    for (std::size_t i : swarm.live())
      if (i != order[1] && more(i) <= 3) return false;
    return true;
  }, 10ms);
  for (std::size_t i : swarm.live()) {
    INFO("peer " << i);
    if (i == order[1])
      CHECK(more(i) == 0);
    else
      CHECK(more(i) > 3);
  }
}

namespace {

// shard -> (version, hash) at its owner, over the live peers; `owned` (when given) counts the
// shards each one owns.
std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> center_at_owners(Swarm& swarm,
                                                                                std::map<std::size_t, int>* owned = nullptr) {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> center;
  for (std::size_t i : swarm.live())
    for (const auto& [k, s] : shards_of(swarm, i))
      if (s["owner"].get<bool>()) {
        center[k] = {s["version"].get<std::uint64_t>(), s["hash"].get<std::uint64_t>()};
        if (owned) ++(*owned)[i];
      }
  return center;
}

}  // namespace

TEST_CASE("the EASGD center survives the death of a shard owner") {
  const std::size_t n = 4;
  Swarm swarm(n, {.name = "easgd", .tau = 1, .alpha = 0.3f});
  for (std::size_t i = 0; i < n; ++i) swarm.set_params(i, random_vector(swarm.node(i).x().size(), 70 + i));
  swarm.run(8, {});
  std::this_thread::sleep_for(200ms);  // replicas receive the owners' latest copies
  // The center as its owners hold it; the owner of the most shards is killed.
  std::map<std::size_t, int> owned;
  auto center = center_at_owners(swarm, &owned);
  REQUIRE(center.size() == 16);
  std::size_t victim = 0;
  for (const auto& [i, c] : owned)
    if (c > owned[victim]) victim = i;
  REQUIRE(owned[victim] >= 1);
  swarm.kill(victim);
  REQUIRE(swarm.wait_for_views(n - 1, 6s));
  std::this_thread::sleep_for(200ms);  // the new owners take over and send new replicas
  auto after = center_at_owners(swarm);
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
      const std::size_t n = 4;
      Swarm swarm(n, {.name = name, .tau = 1});
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

// Runs `average(swarm)` on a pull-gossip swarm on the complete graph on 4 (W = 1/4), tau 1, with
// `overlap`, in which three current peers are at step 800 and peer 3, restarted from an old
// checkpoint, at step 300 (`average` gives them their parameters and exchanges them); once
// with dynamic weighting off and once on. Returns every peer's parameters afterwards, by
// dynamic weighting.
std::map<bool, std::vector<std::vector<float>>> stale_peer_runs(int overlap, const std::function<void(Swarm&)>& average) {
  const std::size_t n = 4;
  std::map<bool, std::vector<std::vector<float>>> result;
  for (bool dynamic : {false, true}) {
    CAPTURE(dynamic);
    Swarm swarm(n, {.name = "gossip", .tau = 1, .gossip = "pull", .graph = "complete", .overlap = overlap,
                    .dynamic_weights = dynamic});
    for (std::size_t i = 0; i < n; ++i) swarm.node(i).step = i == 3 ? 300 : 800;
    average(swarm);
    for (std::size_t i = 0; i < n; ++i) result[dynamic].push_back(swarm.params(i));
  }
  return result;
}

// Three current peers at 0 and a stale one at 1, after one average, by dynamic weighting
// off/on. Without weights each current peer moves a quarter of the way to the stale one; with
// them, by at most its (tiny) weight, and the stale peer is pulled (almost) all the way to the
// others.
void check_stale_peer_pulls(const std::map<bool, std::vector<std::vector<float>>>& result) {
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(result.at(false)[i][0] == doctest::Approx(0.25));
    CHECK(result.at(true)[i][0] < 0.01);
    CHECK(result.at(true)[i][0] > 0.0);
  }
  CHECK(result.at(false)[3][0] == doctest::Approx(0.25));
  CHECK(result.at(true)[3][0] < 0.01);
}

}  // namespace

TEST_CASE("dynamic weights keep a peer returning with stale parameters from dragging the others back") {
  check_stale_peer_pulls(stale_peer_runs(-1, [](Swarm& swarm) {
    // The current peers' parameters are 0, the stale peer's 1.
    for (std::size_t i = 0; i < swarm.size(); ++i)
      swarm.set_params(i, std::vector<float>(swarm.node(i).x().size(), i == 3 ? 1.0f : 0.0f));
    swarm.run(1, {});
  }));
}

TEST_CASE("overlapped: a stale peer answered early moves the others by its dynamic weight only") {
  // As above, with --overlap 2 and the stale peer reaching the round first, so that the current
  // peers answer it early from their channel threads (docs/gossip.md, "Early answers").
  check_stale_peer_pulls(stale_peer_runs(2, [](Swarm& swarm) {
    for (std::size_t i = 0; i < swarm.size(); ++i)
      swarm.set_params(i, std::vector<float>(swarm.node(i).x().size(), 0.0f));
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
    eventually(10s, [&] { return answered() >= before + 3; }, 5ms);
    REQUIRE(answered() == before + 3);
    for (std::size_t i = 0; i < 3; ++i) swarm.step(i, {});  // applies the early answers' halves
    swarm.finish_all();
  }));
}
