// The gossip-family strategies in an in-process swarm with real membership: what each one
// promises about the parameters it exchanges.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "tests/gossip/gossip_swarm.h"
#include "tests/test_util.h"
#include "topology/graph.h"
#include "topology/topology_metrics.h"

using namespace gossip_test;
using chorus_test::eventually;

namespace {

double total(Swarm& swarm) {
  double s = 0;
  for (std::size_t i : swarm.live())
    for (float x : swarm.node(i).x()) s += x;
  return s;
}

double abs_total(Swarm& swarm) {
  double s = 0;
  for (std::size_t i : swarm.live())
    for (float x : swarm.node(i).x()) s += std::fabs(x);
  return s;
}

// sqrt(Σ_i ||x_i - mean||²) over the given parameter vectors.
double spread(const std::vector<std::vector<float>>& xs) {
  const std::size_t n = xs.front().size();
  double e = 0;
  for (std::size_t k = 0; k < n; ++k) {
    double m = 0;
    for (const auto& x : xs) m += x[k];
    m /= static_cast<double>(xs.size());
    for (const auto& x : xs) e += (x[k] - m) * (x[k] - m);
  }
  return std::sqrt(e);
}

std::vector<std::vector<float>> all_params(Swarm& swarm) {
  std::vector<std::vector<float>> xs;
  for (std::size_t i : swarm.live()) xs.push_back(swarm.params(i));
  return xs;
}

constexpr std::uint64_t kStartSeeds = 11;    // peer i starts from random_vector(size, 11 + i)
constexpr std::uint64_t kTargetSeeds = 500;  // and quadratic_step() pulls it to random_vector(size, 500 + i)

// The vectors of n peers for a seed base: peer i's is random_vector(size, base + i).
std::vector<std::vector<float>> peer_vectors(std::size_t n, std::size_t size, std::uint64_t base) {
  std::vector<std::vector<float>> vs;
  for (std::size_t i = 0; i < n; ++i) vs.push_back(random_vector(size, base + i));
  return vs;
}

void randomize(Swarm& swarm) {
  for (std::size_t i = 0; i < swarm.size(); ++i)
    swarm.set_params(i, random_vector(swarm.node(i).x().size(), kStartSeeds + i));
}

// Pulls every peer towards its own target: x <- x - 0.1 (x - t_i), t_i = peer-specific.
StepFn quadratic_step() {
  return [](std::size_t i, std::int64_t, std::span<float> x) {
    const auto t = random_vector(x.size(), kTargetSeeds + i);
    for (std::size_t k = 0; k < x.size(); ++k) x[k] -= 0.1f * (x[k] - t[k]);
  };
}

// The element-wise mean of the vectors (in float, each term divided by their number).
std::vector<float> mean_of(const std::vector<std::vector<float>>& xs) {
  std::vector<float> m(xs.front().size(), 0.0f);
  for (const auto& x : xs)
    for (std::size_t k = 0; k < m.size(); ++k) m[k] += x[k] / static_cast<float>(xs.size());
  return m;
}

double max_distance(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (std::size_t k = 0; k < a.size(); ++k) d = std::max(d, static_cast<double>(std::fabs(a[k] - b[k])));
  return d;
}

double rms_distance(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (std::size_t k = 0; k < a.size(); ++k) d += (a[k] - b[k]) * (a[k] - b[k]);
  return std::sqrt(d / static_cast<double>(a.size()));
}

// Steps the swarm until every peer has adopted a ranking of all n peers (loss reports travel
// asynchronously; on a loaded machine the first rounds may rank only the peers heard so far).
bool settle_ranking(Swarm& swarm, std::size_t n) {
  return swarm.run_until(
      [&] {
        for (std::size_t i : swarm.live())
          if (swarm.node(i).diagnostics()["ranked"].get<std::size_t>() != n) return false;
        return true;
      },
      20s);
}

// Runs 20 steps (2 ms apart) on every peer. For every step that moved a peer's parameters, each
// element is compared bit for bit with expect(peer, before, now) — `before` its value before
// the step, `now` after it (return `now` for an element not checked). Per peer: how many steps
// moved it, and how many of those were not exact.
struct Pulls {
  std::vector<int> count, inexact;
};
Pulls record_pulls(Swarm& swarm, const std::function<float(std::size_t, std::size_t, float, float)>& expect) {
  const std::size_t n = swarm.size();
  std::mutex mu;
  std::vector<std::vector<float>> before(n);
  Pulls pulls{std::vector<int>(n, 0), std::vector<int>(n, 0)};
  swarm.run(
      20, [&](std::size_t i, std::int64_t, std::span<float> x) { before[i].assign(x.begin(), x.end()); }, 2ms,
      [&](std::size_t i, std::int64_t, std::span<float> x) {
        if (std::memcmp(x.data(), before[i].data(), x.size() * sizeof(float)) == 0) return;
        bool exact = true;
        for (std::size_t k = 0; k < x.size(); ++k)
          if (x[k] != expect(i, k, before[i][k], x[k])) exact = false;
        std::lock_guard lock(mu);
        ++pulls.count[i];
        pulls.inexact[i] += !exact;
      });
  return pulls;
}

// Per peer of `pulls`: every pull was exact, and `leader` was never pulled while every other
// peer was, at least 10 times. `context` goes into the failure messages.
void check_pulls(const Pulls& pulls, std::size_t leader, const std::string& context) {
  for (std::size_t i = 0; i < pulls.count.size(); ++i) {
    INFO("peer " << i << ", " << context);
    CHECK(pulls.inexact[i] == 0);
    if (i == leader)
      CHECK(pulls.count[i] == 0);
    else
      CHECK(pulls.count[i] >= 10);
  }
}

}  // namespace

TEST_CASE("elastic gossip preserves the sum of all parameters to float precision") {
  // Synchronous, and overlapped with exchange points skipped while a merge runs (S > tau).
  for (int overlap : {-1, 3}) {
    SUBCASE(overlap < 0 ? "synchronous" : "overlap 3") {
      Swarm swarm(6, {.name = "elastic-gossip", .tau = 1, .alpha = 0.3f, .overlap = overlap});
      randomize(swarm);
      const double before = total(swarm);
      const double before_spread = spread(all_params(swarm));
      swarm.run(24, {}, overlap < 0 ? 0ms : 3ms);  // overlapped: steps that take some time
      swarm.finish_all();  // merges still in flight complete (or are refused on both sides)
      const double after = total(swarm);
      INFO("sum before " << before << " after " << after);
      CHECK(std::fabs(after - before) <= 1e-6 * abs_total(swarm));
      // And the exchanges did happen: every peer applied some, and the peers came closer.
      for (std::size_t i = 0; i < swarm.size(); ++i) CHECK(swarm.node(i).diagnostics()["applied"].get<int>() >= 6);
      CHECK(spread(all_params(swarm)) < 0.3 * before_spread);
    }
  }
}

TEST_CASE("pull gossip on a fixed ring converges to the mean at the rate of the graph's SLEM") {
  const std::size_t n = 8;
  Swarm swarm(n, {.name = "gossip", .tau = 1, .gossip = "pull", .graph = "ring"});
  randomize(swarm);
  const int rounds = 30;
  // history[i][t]: peer i's parameters after t rounds.
  std::vector<std::vector<std::vector<float>>> history(n, std::vector<std::vector<float>>(rounds + 1));
  swarm.run(rounds + 1, [&](std::size_t i, std::int64_t step, std::span<float> x) {
    history[i][static_cast<std::size_t>(step - 1)].assign(x.begin(), x.end());
  });
  const double slem = measure_topology(*make_graph("ring"), swarm.node(0).membership->view()).slem;
  CHECK(slem == doctest::Approx(1.0 / 3 + 2.0 / 3 * std::cos(2 * M_PI / n)).epsilon(1e-9));
  std::vector<double> err(rounds + 1);
  std::vector<float> mean0;
  for (int t = 0; t <= rounds; ++t) {
    std::vector<std::vector<float>> xs;
    for (std::size_t i = 0; i < n; ++i) xs.push_back(history[i][static_cast<std::size_t>(t)]);
    err[static_cast<std::size_t>(t)] = spread(xs);
    const std::vector<float> mean = mean_of(xs);
    if (t == 0) mean0 = mean;
    CHECK(max_distance(mean, mean0) < 1e-5);  // W is doubly stochastic: the mean stays
    // W symmetric: the spread shrinks at least SLEM-fold per round.
    CHECK(err[static_cast<std::size_t>(t)] <= err[0] * std::pow(slem, t) * (1 + 1e-4) + 1e-6);
  }
  const int t0 = 8;
  const double rate = std::pow(err[rounds] / err[t0], 1.0 / (rounds - t0));
  INFO("measured rate " << rate << ", SLEM " << slem);
  CHECK(rate == doctest::Approx(slem).epsilon(0.02));
}

TEST_CASE("push-sum preserves the total weight and converges to the exact mean") {
  const std::size_t n = 6;
  Swarm swarm(n, {.name = "gossip", .tau = 1, .gossip = "push", .graph = "ring"});
  randomize(swarm);
  const std::vector<float> mean = mean_of(all_params(swarm));
  swarm.run(120, {}, 1ms);
  // Shares still in flight reach their inboxes (bounded wait: a loaded machine delivers late).
  auto total_weight = [&] {
    double w = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto d = swarm.node(i).diagnostics();
      w += d["weight"].get<double>() + d["inbox_weight"].get<double>();
    }
    return w;
  };
  eventually(5s, [&] { return std::fabs(total_weight() - static_cast<double>(n)) <= 1e-9 * n; }, 10ms);
  const double weight = total_weight();
  CHECK(weight == doctest::Approx(static_cast<double>(n)).epsilon(1e-9));
  for (std::size_t i = 0; i < n; ++i) CHECK(max_distance(swarm.params(i), mean) < 2e-3);
}

TEST_CASE("LSGD pulls every non-leader towards the leader by exactly lambda, and all name one leader") {
  const TestOptions o{.name = "lsgd", .tau = 1, .lambda = 0.2f};
  const std::size_t n = 4;
  Swarm swarm(n, o);
  // The loss of each peer is fixed (the harness computed one batch); the leader is the lowest.
  const std::size_t leader = ranked_by_loss(swarm)[0];
  REQUIRE(settle_ranking(swarm, n));
  const std::vector<float> x_leader = swarm.params(leader);
  const Pulls p = record_pulls(swarm, [&](std::size_t, std::size_t k, float b, float) {
    return b - o.lambda * (b - x_leader[k]);
  });
  check_pulls(p, leader, "leader " + std::to_string(leader));
  for (std::size_t i = 0; i < n; ++i) {
    INFO("peer " << i << " (leader " << leader << ")");
    CHECK(swarm.node(i).diagnostics()["leader"].get<PeerId>() == swarm.node(leader).id());
  }
}

TEST_CASE("LSGD pulls towards each copy of the leader once: a stalled leader does not draw the others back") {
  const TestOptions o{.name = "lsgd", .tau = 1, .lambda = 0.2f};
  const std::size_t n = 4;
  Swarm swarm(n, o);
  const std::size_t leader = ranked_by_loss(swarm)[0];
  const std::size_t other = (leader + 1) % n;
  REQUIRE(settle_ranking(swarm, n));
  // The leader stops stepping (its channel thread still answers); the other peer steps on,
  // moving its parameters as training would, and is pulled at most once more.
  const auto train = [](std::size_t, std::int64_t, std::span<float> x) {
    for (auto& v : x) v += 0.01f;
  };
  int moved_beyond_training = 0;
  std::vector<float> before;
  const auto remember = [&](std::size_t, std::int64_t, std::span<float> x) { before.assign(x.begin(), x.end()); };
  const auto count = [&](std::size_t, std::int64_t, std::span<float> x) {
    moved_beyond_training += std::memcmp(x.data(), before.data(), x.size() * sizeof(float)) != 0;
  };
  for (int s = 0; s < 8; ++s)
    swarm.step(other, [&](std::size_t i, std::int64_t st, std::span<float> x) { train(i, st, x); remember(i, st, x); }, count);
  CHECK(moved_beyond_training <= 1);
  CHECK(swarm.node(other).diagnostics()["leader"].get<PeerId>() == swarm.node(leader).id());
  // The leader steps once: its new copy is pulled towards, by exactly lambda.
  swarm.step(leader, {});
  const std::vector<float> x_leader = swarm.params(leader);
  bool exact = true;
  swarm.step(other, remember, [&](std::size_t, std::int64_t, std::span<float> x) {
    for (std::size_t k = 0; k < x.size(); ++k)
      if (x[k] != before[k] - o.lambda * (before[k] - x_leader[k])) exact = false;
  });
  CHECK(exact);
}

TEST_CASE("multi-leader LSGD pulls towards the group leader and the global leader") {
  // The harness labels peers "even" and "odd": two groups of two.
  const TestOptions o{.name = "lsgd", .tau = 1, .lambda_local = 0.25f, .lambda_global = 0.125f, .groups = "label"};
  const std::size_t n = 4;
  Swarm swarm(n, o);
  const std::vector<std::size_t> order = ranked_by_loss(swarm);
  const std::size_t global = order[0];
  const std::size_t mate = (global + 2) % 4;  // same label (index parity) as the global leader
  // The leader of the other group: its best-ranked member.
  const std::size_t local = *std::find_if(order.begin(), order.end(), [&](std::size_t i) { return i % 2 != global % 2; });
  REQUIRE(settle_ranking(swarm, n));
  const std::vector<float> x_global = swarm.params(global);
  const Pulls p = record_pulls(swarm, [&](std::size_t i, std::size_t k, float b, float now) {
    const float g = x_global[k];
    if (i == mate) return b - o.lambda_local * (b - g) - o.lambda_global * (b - g);
    if (i == local) return b - o.lambda_global * (b - g);  // a group leader: only towards L
    return now;  // the other group's second member: pulled towards both, not checked exactly
  });
  check_pulls(p, global, "global leader " + std::to_string(global) + ", other group's leader " + std::to_string(local));
}

TEST_CASE("EASGD preserves the sum of the peers' parameters and the center") {
  const std::size_t n = 4;
  Swarm swarm(n, {.name = "easgd", .tau = 1, .alpha = 0.25f});
  randomize(swarm);
  auto center_sum = [&] {
    double s = 0;
    for (std::size_t i : swarm.live())
      for (const auto& [k, shard] : shards_of(swarm, i))
        if (shard["owner"].get<bool>()) s += shard["sum"].get<double>();
    return s;
  };
  swarm.run(1, {});  // every shard is created from its first visitor's parameters
  std::size_t owned = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& [k, shard] : shards_of(swarm, i)) owned += shard["owner"].get<bool>();
  CHECK(owned == 16);
  const double before = total(swarm) + center_sum();
  swarm.run(15, {});
  const double after = total(swarm) + center_sum();
  INFO("sum before " << before << " after " << after);
  CHECK(std::fabs(after - before) <= 1e-6 * abs_total(swarm));
  // The peers were pulled together through the center.
  CHECK(spread(all_params(swarm)) < 0.5 * spread(peer_vectors(n, swarm.node(0).x().size(), kStartSeeds)));
}

TEST_CASE("each strategy brings quadratic learners to the mean of their targets") {
  const std::size_t n = 4;
  for (const char* name : {"elastic-gossip", "gossip", "easgd", "downpour"}) {
    SUBCASE(name) {
      Swarm swarm(n, {.name = name, .tau = 2, .alpha = 0.4f});
      randomize(swarm);
      // Each peer's parameters averaged over its last 50 steps (single steps fluctuate with the
      // phase of the exchanges).
      const std::size_t size = swarm.node(0).x().size();
      std::vector<std::vector<double>> late(n, std::vector<double>(size, 0.0));
      swarm.run(150, quadratic_step(), 1ms, [&](std::size_t i, std::int64_t step, std::span<float> x) {
        if (step > 100)
          for (std::size_t k = 0; k < size; ++k) late[i][k] += x[k] / 50.0;
      });
      const auto target = mean_of(peer_vectors(n, size, kTargetSeeds));
      // Local pulls and mixing balance with the peers around the mean of the targets (elastic
      // forms keep a per-peer offset towards each peer's own target), much closer together than
      // the targets themselves.
      std::vector<std::vector<float>> late_floats;
      for (const auto& x : late) late_floats.emplace_back(x.begin(), x.end());
      const std::vector<float> mean = mean_of(late_floats);
      // Root mean square over the elements. Downpour's store is constant-step asynchronous SGD:
      // it wanders around the optimum towards whichever peer pushed last. Elastic gossip and
      // gossip run in lock step here and are exact up to rounding.
      const std::string s = name;
      const double limit = s == "downpour" || s == "easgd" ? 0.05 : 1e-4;
      INFO(s << " rms distance " << rms_distance(mean, target));
      CHECK(rms_distance(mean, target) < limit);
      CHECK(spread(all_params(swarm)) < 0.5 * spread(peer_vectors(n, size, kTargetSeeds)));
    }
  }
}

TEST_CASE("overlapped: a partner behind its round answers at once, and the exchange stays exact") {
  // Peer 1's training thread stalls for 25 ms now and then (as on a core shared with other
  // peers) while peer 0 steps every 10 ms: peer 0 reaches rounds first. With S >= 1 peer 1's
  // channel thread answers from its published snapshot instead of making peer 0 wait for its
  // round, and both sides apply the same change (an elastic pair exchange, or both halves of a
  // pull-gossip edge), so no parameter mass is lost: the sum of all parameters grows by exactly
  // the local steps.
  for (const char* name : {"elastic-gossip", "gossip"}) {
    SUBCASE(name) {
      Swarm swarm(2, {.name = name, .tau = 1, .alpha = 0.3f, .overlap = 2});
      randomize(swarm);
      const double before = total(swarm);
      // Every step moves each element by 0.01 (a local step the exchanges must not lose).
      const StepFn drift = [](std::size_t, std::int64_t, std::span<float> x) {
        for (float& v : x) v += 0.01f;
      };
      const StepFn hiccups = [&](std::size_t i, std::int64_t step, std::span<float> x) {
        std::this_thread::sleep_for(i == 1 && step % 5 == 0 ? 25ms : 0ms);
        drift(i, step, x);
      };
      swarm.run(40, hiccups, 10ms);
      // Then in step, so that the real values of rounds answered early have all arrived.
      swarm.run(10, drift, 10ms);
      swarm.finish_all();
      const double drifted = 2 * 50 * 0.01 * static_cast<double>(swarm.node(0).x().size());
      INFO(name << ": " << swarm.node(0).diagnostics().dump() << " " << swarm.node(1).diagnostics().dump());
      CHECK(swarm.node(1).diagnostics()["answered_early"].get<int>() > 0);
      CHECK(std::fabs(total(swarm) - before - drifted) <= 1e-5 * abs_total(swarm));
    }
  }
}

TEST_CASE("an overlapped merge with S = 0 gives the synchronous swarm's parameters bit for bit") {
  const std::size_t n = 4;
  for (const char* name : {"gossip", "elastic-gossip"}) {
    SUBCASE(name) {
      std::vector<std::vector<std::vector<float>>> results;
      for (int overlap : {-1, 0}) {
        Swarm swarm(n, {.name = name, .tau = 1, .alpha = 0.3f, .overlap = overlap});
        randomize(swarm);
        swarm.run(15, quadratic_step());
        results.push_back(all_params(swarm));
      }
      for (std::size_t i = 0; i < n; ++i) {
        INFO(std::string(name) << " peer " << i);
        CHECK(std::memcmp(results[0][i].data(), results[1][i].data(), results[0][i].size() * sizeof(float)) == 0);
      }
    }
  }
}
