// The ring-family strategies through the Strategy interface, as the peer runtime drives them:
// in-process transports, real SWIM membership, an mlp on the CPU backend, and a hand-written
// training step (member-specific gradients, then x -= lr * g) so the expected parameters are
// known. allreduce keeps every member's parameters identical; kavg makes them identical every
// K steps; hier within each group every K1 steps and across all every K2.
#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "foundations/backends/backend.h"
#include "foundations/base/error.h"
#include "foundations/models/model.h"
#include "foundations/transport/inproc_transport.h"
#include "peers/exchange/dynamic_weights.h"
#include "peers/exchange/strategy.h"
#include "peers/membership/membership.h"
#include "peers/ring/ring_session.h"
#include "tests/inproc_peer.h"
#include "topology/groups.h"

using namespace chorus;
using namespace std::chrono_literals;

namespace {

using Peer = chorus_test::InprocPeer;

class Swarm {
 public:
  Swarm(std::size_t n, const chorus_test::StrategyChoice& options, const std::string& tag) : hub_(std::make_shared<InprocHub>()) {
    for (std::size_t i = 0; i < n; ++i) peers_.push_back(std::make_unique<Peer>());
    REQUIRE(chorus_test::start_inproc_members(hub_, peers_, "strategy-" + tag, 0));
    for (auto& p : peers_) {
      p->backend = make_backend("cpu");
      p->model = Model::create("mlp", *p->backend, 4, 1234);
      p->start_strategy(options, 1);
    }
    REQUIRE(chorus_test::wait_all_ready(peers_));
  }
  ~Swarm() {
    for (auto& p : peers_) p->membership->stop();
  }

  // Runs `steps` training steps on every member (one thread each); after each step the member
  // records its parameters when `record(step)` says so. Member i counts its steps from
  // first_step[i] (default 1), as a member resumed from an older checkpoint would.
  // The gradient of element k for member i at `step` (default: varies with all three).
  using Gradient = std::function<float(std::size_t i, std::size_t k, std::int64_t step)>;
  static float default_gradient(std::size_t i, std::size_t k, std::int64_t step) {
    return 1e-3f * static_cast<float>(static_cast<int>((k * 13 + i * 101 + step * 7) % 41) - 20);
  }

  std::vector<std::vector<std::vector<float>>> train(std::int64_t steps, const std::function<bool(std::int64_t)>& record,
                                                     std::vector<std::int64_t> first_step = {},
                                                     const Gradient& gradient = default_gradient) {
    first_step.resize(peers_.size(), 1);
    std::vector<std::vector<std::vector<float>>> snapshots(peers_.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < peers_.size(); ++i)
      threads.emplace_back([&, i] {
        Peer& p = *peers_[i];
        const std::size_t n = p.model->size();
        for (std::int64_t step = first_step[i]; step < first_step[i] + steps; ++step) {
          float* g = p.model->grads();
          for (std::size_t k = 0; k < n; ++k) g[k] = gradient(i, k, step);
          p.strategy->before_update(step);
          float* x = p.model->params();
          for (std::size_t k = 0; k < n; ++k) x[k] -= 0.1f * g[k];
          p.strategy->after_update(step);
          if (record(step)) snapshots[i].push_back(p.model->get_params());
        }
        p.strategy->finish();
      });
    for (auto& t : threads) t.join();
    return snapshots;
  }

  std::size_t size() const { return peers_.size(); }
  Peer& peer(std::size_t i) { return *peers_[i]; }
  // Every member's parameters now (after train(), i.e. after finish() applied any merge).
  std::vector<std::vector<float>> params() const {
    std::vector<std::vector<float>> out;
    for (const auto& p : peers_) out.push_back(p->model->get_params());
    return out;
  }

 private:
  std::shared_ptr<InprocHub> hub_;
  std::vector<std::unique_ptr<Peer>> peers_;
};

}  // namespace

TEST_CASE("allreduce: every member applies the same averaged gradient") {
  chorus_test::StrategyChoice o{"allreduce", {}};
  Swarm swarm(3, o, "allreduce");
  const auto snaps = swarm.train(6, [](std::int64_t) { return true; });
  for (std::size_t s = 0; s < 6; ++s) {
    CAPTURE(s);
    CHECK(snaps[1][s] == snaps[0][s]);
    CHECK(snaps[2][s] == snaps[0][s]);
  }
  // And not the parameters of a member training alone: the gradients were really averaged.
  auto alone = Model::create("mlp", *swarm.peer(0).backend, 4, 1234)->get_params();
  for (std::int64_t step = 1; step <= 6; ++step)
    for (std::size_t k = 0; k < alone.size(); ++k) {
      float avg = 0;
      for (std::size_t i = 0; i < 3; ++i)
        avg += 1e-3f * static_cast<float>(static_cast<int>((k * 13 + i * 101 + step * 7) % 41) - 20);
      alone[k] -= 0.1f * avg * static_cast<float>(1.0 / 3.0);
    }
  double far = 0;
  for (std::size_t k = 0; k < alone.size(); ++k) far = std::max(far, double(std::abs(alone[k] - snaps[0][5][k])));
  CHECK(far < 1e-5);
  CHECK(swarm.peer(0).stats.bytes_sent > 0);
}

TEST_CASE("allreduce: a member restarted from an older checkpoint, still a member, is brought back in line") {
  // Member 2's strategy is built anew (its process restarted under the same id before the
  // others noticed) with the parameters it had 20 steps ago. The parameter averages run at
  // fixed steps of the swarm's count (the first, then every 100), so all members make them:
  // nobody waits alone in one, and from step 101 on every member holds the same parameters.
  chorus_test::StrategyChoice o{"allreduce", {}};
  Swarm swarm(3, o, "allreduce-restart");
  const auto before = swarm.train(30, [](std::int64_t step) { return step == 10; });
  const std::vector<float> old_params = before[2][0];
  Peer& restarted = swarm.peer(2);
  restarted.strategy.reset();
  restarted.model->set_params(old_params);
  restarted.start_strategy(o, 1);
  const auto t0 = std::chrono::steady_clock::now();
  swarm.train(90, [](std::int64_t) { return false; }, {31, 31, 11});
  CHECK(std::chrono::steady_clock::now() - t0 < 20s);  // no lone parameter average (60 s timeout)
  const auto params = swarm.params();
  CHECK(params[0] == params[1]);
  CHECK(params[2] == params[0]);
}

TEST_CASE("kavg: parameters agree every K steps and drift in between") {
  chorus_test::StrategyChoice o{"kavg", {{"k", "3"}}};
  Swarm swarm(3, o, "kavg");
  const auto snaps = swarm.train(7, [](std::int64_t) { return true; });
  for (std::size_t s : {2, 5}) {  // after steps 3 and 6
    CHECK(snaps[1][s] == snaps[0][s]);
    CHECK(snaps[2][s] == snaps[0][s]);
  }
  for (std::size_t s : {0, 3, 6}) CHECK(snaps[1][s] != snaps[0][s]);  // steps 1, 4, 7: local steps
}

TEST_CASE("hier: groups agree every K1 steps, everybody every K2") {
  chorus_test::StrategyChoice o{"hier", {{"k1", "2"}, {"k2", "4"}, {"groups", "size:2"}}};
  Swarm swarm(4, o, "hier");
  const auto snaps = swarm.train(4, [](std::int64_t) { return true; });
  const View view = swarm.peer(0).membership->view();
  const auto groups = make_groups(view, parse_group_rule("size:2"));
  REQUIRE(groups.size() == 2);
  const auto index_of = [&](std::size_t member) {
    for (std::size_t i = 0; i < swarm.size(); ++i)
      if (swarm.peer(i).transport->id() == view.members[member].id) return i;
    return swarm.size();
  };
  for (const Group& g : groups) {
    const std::size_t a = index_of(g.members[0]), b = index_of(g.members[1]);
    CHECK(snaps[a][1] == snaps[b][1]);  // step 2: the group averaged
  }
  const std::size_t a0 = index_of(groups[0].members[0]), b0 = index_of(groups[1].members[0]);
  CHECK(snaps[a0][1] != snaps[b0][1]);  // ... but not across groups
  for (std::size_t i = 1; i < swarm.size(); ++i) CHECK(snaps[i][3] == snaps[0][3]);  // step 4: everybody
}

TEST_CASE("hier: a member whose step count differs joins the others' rounds, group and global alike") {
  chorus_test::StrategyChoice o{"hier", {{"k1", "2"}, {"k2", "4"}}};
  Swarm swarm(4, o, "hier-offset");  // one group (one host): group and global rings both hold all
  // Member 3 counts from step 3: at its step 4 (a global boundary) the others are at their
  // step 2 (a group boundary).
  const auto snaps = swarm.train(16, [](std::int64_t) { return true; }, {1, 1, 1, 3});
  // After each collective the four hold the same parameters. With mismatched boundaries they
  // would run different collectives and each would fail after its timeout instead. Count the
  // parameter vectors that all four held at some step.
  int shared = 0;
  for (const auto& x : snaps[3]) {
    bool everywhere = true;
    for (std::size_t i = 0; i < 3 && everywhere; ++i)
      everywhere = std::find(snaps[i].begin(), snaps[i].end(), x) != snaps[i].end();
    shared += everywhere;
  }
  CHECK(shared >= 6);  // 16 steps at K1 = 2: at least 6 collectives after the first alignment
}

// The two parameter-averaging strategies with the options each test gives them.
chorus_test::StrategyChoice averaging_options(const std::string& name, int overlap) {
  chorus_test::StrategyChoice o{name, {{"overlap", std::to_string(overlap)}}};
  if (name == "kavg") o.set("k", "3");
  if (name == "hier") o.set("k1", "2").set("k2", "4").set("groups", "size:2");
  return o;
}

TEST_CASE("kavg and hier with --overlap 0 give the synchronous parameters bit for bit") {
  for (const char* name : {"kavg", "hier"}) {
    SUBCASE(name) {
      std::vector<std::vector<std::vector<std::vector<float>>>> runs;
      for (int overlap : {-1, 0}) {
        // The same tag gives the same member ids, so the same ring order and the same rounding.
        Swarm swarm(4, averaging_options(name, overlap), std::string("s0-") + name);
        runs.push_back(swarm.train(9, [](std::int64_t) { return true; }));
      }
      for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t s = 0; s < 9; ++s) {
          CAPTURE(i);
          CAPTURE(s);
          REQUIRE(runs[0][i][s].size() == runs[1][i][s].size());
          CHECK(std::memcmp(runs[0][i][s].data(), runs[1][i][s].data(), runs[0][i][s].size() * sizeof(float)) == 0);
        }
    }
  }
}

TEST_CASE("kavg and hier with --overlap 2 average beside training and keep every local step") {
  // The merges run on the merge thread and the steps taken meanwhile are added back
  // (x ← x̄ + (x − s)). Each member i steps by a constant -0.1 · g_i with g_i = 1e-4 (i + 1), so
  // averages move no mass between members and the sum over members of every parameter is the
  // synchronous run's up to rounding, whatever the timing: dropping either side of an
  // x̄ + (x − s) loses steps and changes it. Step 8, the last, is a global boundary of both, and
  // finish() applies its merge with no step taken since: every member then holds x̄ exactly
  // (never averaged, members 1 and 4 would be 0.1 · 3e-4 · 8 apart).
  const auto gradient = [](std::size_t i, std::size_t, std::int64_t) { return 1e-4f * static_cast<float>(i + 1); };
  for (const char* name : {"kavg", "hier"}) {
    SUBCASE(name) {
      std::vector<std::vector<std::vector<float>>> finals;
      for (int overlap : {-1, 2}) {
        chorus_test::StrategyChoice o = averaging_options(name, overlap);
        if (o.name == "kavg") o.set("k", "4");
        Swarm swarm(4, o, std::string("s2-") + name);
        swarm.train(8, [](std::int64_t) { return false; }, {}, gradient);
        finals.push_back(swarm.params());
        if (overlap >= 0) {
          CHECK(swarm.peer(0).stats.bytes_sent > 0);
          CHECK(swarm.peer(0).stats.comm_s.load() > 0);
        }
      }
      const auto& sync = finals[0];
      const auto& overlapped = finals[1];
      for (std::size_t i = 1; i < 4; ++i) CHECK(overlapped[i] == overlapped[0]);
      double far = 0, scale = 0;
      for (std::size_t k = 0; k < sync[0].size(); ++k) {
        double a = 0, b = 0;
        for (std::size_t i = 0; i < 4; ++i) {
          a += sync[i][k];
          b += overlapped[i][k];
        }
        far = std::max(far, std::abs(a - b));
        scale = std::max(scale, std::abs(a));
      }
      CHECK(far <= 1e-6 * std::max(1.0, scale));
    }
  }
}

TEST_CASE("kavg with --dynamic-weights: a member whose parameters are 200 steps old barely moves the others") {
  // Member 2 counts from step 1, the others from 201 (it resumed from an old checkpoint). At
  // the first boundary it learns their round, and its values then weigh currency(200 steps
  // behind) against theirs (all three have taken 2 steps since starting). Without dynamic
  // weights all three weigh the same.
  const auto gradient = [](std::size_t i, std::size_t, std::int64_t) { return 1e-4f * static_cast<float>(i + 1); };
  for (bool dynamic : {false, true}) {
    CAPTURE(dynamic);
    chorus_test::StrategyChoice o{"kavg", {{"k", "2"}}};
    if (dynamic) o.set("dynamic-weights", "");
    Swarm swarm(3, o, dynamic ? "dw-on" : "dw-off");
    const auto snaps = swarm.train(2, [](std::int64_t) { return true; }, {201, 201, 1}, gradient);
    const auto start = Model::create("mlp", *swarm.peer(0).backend, 4, 1234)->get_params();
    // Each member took two steps of -0.1 g_i before the average.
    const double stale = currency({-200, 2, 0}, 0) / currency({0, 2, 0}, 0);
    const double w[3] = {1, 1, stale};
    const double weighted = (w[0] * 1e-4 + w[1] * 2e-4 + w[2] * 3e-4) / (w[0] + w[1] + w[2]);
    const double plain = 2e-4;
    const double expected_g = dynamic ? weighted : plain, other_g = dynamic ? plain : weighted;
    double err = 0, err_other = 0;
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t k = 0; k < start.size(); ++k) {
        err = std::max(err, std::abs(snaps[i][1][k] - (start[k] - 0.2 * expected_g)));
        err_other = std::max(err_other, std::abs(snaps[i][1][k] - (start[k] - 0.2 * other_g)));
      }
    CHECK(stale < 0.1);
    CHECK(err < 1e-6);         // the average each member holds after the boundary
    CHECK(err_other > 5e-6);   // and not the other one (they differ by 0.2 * 0.45e-4 = 9e-6)
  }
}

TEST_CASE("ring strategies started together wait for each other before the first step") {
  // Without the wait the first member to start would take steps while the others are still
  // fetching state, so their step counts (and rounds) would differ from the first collective on.
  for (const char* name : {"allreduce", "kavg", "hier"}) {
    SUBCASE(name) {
      auto hub = std::make_shared<InprocHub>();
      std::vector<std::unique_ptr<Peer>> peers;
      for (int i = 0; i < 3; ++i) peers.push_back(std::make_unique<Peer>());
      REQUIRE(chorus_test::start_inproc_members(hub, peers, std::string("ready-") + name, 0));
      const chorus_test::StrategyChoice o{name, {}};
      for (auto& p : peers) {
        p->backend = make_backend("cpu");
        p->model = Model::create("mlp", *p->backend, 4, 1234);
      }
      peers[0]->start_strategy(o, 1);
      peers[1]->start_strategy(o, 1);
      const View view = peers[0]->membership->view();
      // Member 2 has no strategy yet: not ready, and the wait ends at its timeout.
      const auto t0 = std::chrono::steady_clock::now();
      CHECK_FALSE(peers[0]->strategy->wait_until_ready(view, 200ms));
      CHECK(std::chrono::steady_clock::now() - t0 < 2s);
      peers[2]->start_strategy(o, 1);
      // Each waits on its own thread, as each peer's runtime does; all three see the others.
      std::vector<int> ready(3, 0);
      std::vector<std::thread> threads;
      for (int i = 0; i < 3; ++i)
        threads.emplace_back([&, i] { ready[i] = peers[i]->strategy->wait_until_ready(view, 5s); });
      for (auto& t : threads) t.join();
      CHECK(ready == std::vector<int>{1, 1, 1});
      for (auto& p : peers) p->membership->stop();
    }
  }
}

TEST_CASE("ring strategies refuse options out of range, or that they do not take, before they are built") {
  CHECK_THROWS_AS(strategy_settings("hier", {{"k1", "3"}, {"k2", "4"}}), UserError);  // K2 not a multiple of K1
  CHECK_THROWS_AS(strategy_settings("kavg", {{"k", "0"}}), UserError);
  CHECK_THROWS_AS(strategy_settings("kavg", {{"k1", "2"}}), UserError);  // hier's, not kavg's
  // allreduce averages gradients inside the step: nothing for --overlap to overlap.
  try {
    strategy_settings("allreduce", {{"overlap", "1"}});
    FAIL("allreduce took --overlap");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()).find("--overlap is not an option of allreduce") != std::string::npos);
  }
  CHECK(strategy_settings("hier", {{"k1", "3"}, {"k2", "6"}})->strategy() == "hier");
}
