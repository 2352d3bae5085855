#pragma once
// An in-process swarm for the gossip-family strategy tests: N peers, each with its own
// in-process transport (one shared hub), real SWIM membership, a tiny one-layer model on the
// CPU backend and a strategy made by the factories of peers/gossip/strategies.h. A test drives
// the peers' "training" with a step function of its own (one runner thread per peer, calling
// the strategy's after_update exactly like the peer loop), kills a peer (its strategy, then
// its membership without a leave, then its transport — as a crash), and reads parameters and
// the strategies' diagnostics.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/models/layers.h"
#include "foundations/models/model.h"
#include "foundations/transport/inproc_transport.h"
#include "peers/exchange/strategy.h"
#include "peers/gossip/peer_exchange.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/membership/membership.h"
#include "tests/inproc_peer.h"

namespace gossip_test {

using namespace chorus;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline ExchangeTimings test_timings() {
  ExchangeTimings t;
  t.exchange_timeout = std::chrono::milliseconds(4000);
  t.poll = std::chrono::milliseconds(10);
  t.send_timeout = std::chrono::milliseconds(1000);
  t.tick = std::chrono::milliseconds(20);
  return t;
}

// The options these tests give the gossip-family strategies, as fields; choice() passes a
// strategy only the ones it declares (the command line would refuse the others).
struct TestOptions {
  std::string name;
  int tau = 0;  // 0: the strategy's default
  float alpha = 0.5f, p = 0.0f, lambda = 0.15f, lambda_local = 0.1f, lambda_global = 0.05f;
  std::string gossip = "pull", graph = "ring", groups = "host";
  int overlap = -1;
  bool dynamic_weights = false;

  chorus_test::StrategyChoice choice() const {
    const auto declared = strategy_registry().get(name).settings();
    chorus_test::StrategyChoice c{name, {}};
    const auto give = [&](const std::string& option, const std::string& value) {
      if (declared->options().find(option)) c.set(option, value);
    };
    if (tau > 0) give("tau", std::to_string(tau));
    give("alpha", fmt::format("{}", alpha));
    give("p", fmt::format("{}", p));
    give("lambda", fmt::format("{}", lambda));
    give("lambda-local", fmt::format("{}", lambda_local));
    give("lambda-global", fmt::format("{}", lambda_global));
    give("gossip", gossip);
    give("graph", graph);
    give("groups", groups);
    give("overlap", std::to_string(overlap));
    if (dynamic_weights) give("dynamic-weights", "");
    return c;
  }
};

struct Node : chorus_test::InprocPeer {
  std::thread runner;
  std::atomic<bool> stop{false};
  std::int64_t step = 0;
  std::uint64_t known_view = 0;

  bool alive() const { return strategy != nullptr; }
  std::span<float> x() { return params->host(); }
  nlohmann::json diagnostics() const {
    auto* e = dynamic_cast<gossip::PeerExchange*>(strategy.get());
    return e ? e->diagnostics() : nlohmann::json::object();
  }
};

// Called on a peer's runner thread before each after_update: change x as a training step would.
using StepFn = std::function<void(std::size_t peer, std::int64_t step, std::span<float> x)>;

class Swarm {
 public:
  Swarm(std::size_t n, TestOptions options, int inputs = 15, int outputs = 4,
        ExchangeTimings timings = test_timings())
      : options_(std::move(options)), timings_(timings) {
    nodes_.resize(n);
    for (auto& nd : nodes_) nd = std::make_unique<Node>();
    // The harness labels peers "even" and "odd" (for --groups label).
    if (!chorus_test::start_inproc_members(hub_, nodes_, "gossip", 4242,
                                           [](std::size_t i) { return std::string(i % 2 ? "odd" : "even"); }))
      throw std::runtime_error("the in-process swarm did not form within its timeout");
    for (std::size_t i = 0; i < n; ++i) {
      Node& nd = *nodes_[i];
      nd.backend = make_cpu_backend();
      std::vector<std::unique_ptr<Layer>> layers;
      layers.push_back(make_linear_layer("fc", SampleShape{inputs, 1, 1}, outputs, Activation::none));
      nd.model = std::make_unique<Model>("test", *nd.backend, SampleShape{inputs, 1, 1}, std::move(layers), 4,
                                         1000 + i);
      // One batch so that last_loss() is defined (and differs between peers).
      std::vector<float> xb(static_cast<std::size_t>(inputs), 0.5f);
      std::int32_t yb = 1;
      DeviceBuffer<float> dx(*nd.backend, xb.size());
      DeviceBuffer<std::int32_t> dy(*nd.backend, 1);
      nd.backend->to_device(dx.data(), xb.data(), xb.size() * sizeof(float));
      nd.backend->to_device(dy.data(), &yb, sizeof yb);
      nd.model->train_batch(dx.data(), dy.data(), 1);
      nd.start_strategy(options_.choice(), 7, timings_);
      nd.known_view = nd.membership->view().number;
      nd.strategy->on_view(nd.membership->view());
    }
  }
  ~Swarm() {
    stop_running();
    for (auto& n : nodes_) n->strategy.reset();
    for (auto& n : nodes_) n->membership.reset();
  }

  std::size_t size() const { return nodes_.size(); }
  Node& node(std::size_t i) { return *nodes_.at(i); }
  std::vector<std::size_t> live() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i]->alive()) out.push_back(i);
    return out;
  }

  void set_params(std::size_t i, const std::vector<float>& values) {
    auto x = node(i).x();
    std::copy(values.begin(), values.end(), x.begin());
  }
  std::vector<float> params(std::size_t i) {
    auto x = node(i).x();
    return {x.begin(), x.end()};
  }

  // One step of peer i: the step function, then the strategy, as the peer loop does.
  void step(std::size_t i, const StepFn& fn, const StepFn& after = {}) {
    Node& nd = node(i);
    const View v = nd.membership->view();
    if (v.number != nd.known_view) {
      nd.known_view = v.number;
      nd.strategy->on_view(v);
    }
    ++nd.step;
    if (fn) fn(i, nd.step, nd.x());
    nd.strategy->after_update(nd.step);
    if (after) after(i, nd.step, nd.x());
  }

  // Runs `steps` steps on every live peer concurrently and waits for all to finish.
  void run(std::int64_t steps, const StepFn& fn, std::chrono::milliseconds pause = 0ms, const StepFn& after = {}) {
    std::vector<std::thread> threads;
    for (std::size_t i : live())
      threads.emplace_back([this, i, steps, &fn, &after, pause] {
        for (std::int64_t s = 0; s < steps; ++s) {
          step(i, fn, after);
          if (pause.count()) std::this_thread::sleep_for(pause);
        }
      });
    for (auto& t : threads) t.join();
  }

  // Keeps every live peer stepping until `done()` holds (checked between rounds of steps) or
  // `timeout` passes; returns whether it held.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                 std::chrono::milliseconds pause = 2ms) {
    const auto until = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= until) return false;
      run(1, {}, pause);
    }
    return true;
  }

  // Calls finish() on every live peer at once (as peers leaving together): merges in flight
  // are completed or refused, so the parameters are quiescent afterwards.
  void finish_all() {
    std::vector<std::thread> threads;
    for (std::size_t i : live()) threads.emplace_back([this, i] { node(i).strategy->finish(); });
    for (auto& t : threads) t.join();
  }

  // Keeps every live peer stepping (with `pause` between steps) until stop_running().
  void start_running(StepFn fn, std::chrono::milliseconds pause) {
    running_fn_ = std::move(fn);
    for (std::size_t i : live()) {
      Node& nd = node(i);
      nd.stop = false;
      nd.runner = std::thread([this, i, pause, &nd] {
        while (!nd.stop) {
          step(i, running_fn_);
          std::this_thread::sleep_for(pause);
        }
      });
    }
  }
  void stop_running(std::size_t i) {
    Node& nd = node(i);
    nd.stop = true;
    if (nd.runner.joinable()) nd.runner.join();
  }
  void stop_running() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) stop_running(i);
  }

  // A crash: no leave, no hand-over.
  void kill(std::size_t i) {
    stop_running(i);
    Node& nd = node(i);
    nd.strategy.reset();
    nd.membership.reset();
    nd.transport.reset();
  }

  // Waits until every live peer's view has exactly `n` members.
  bool wait_for_views(std::size_t n, std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      bool ok = true;
      for (auto& nd : nodes_)
        if (nd->membership && nd->membership->view().size() != n) ok = false;
      if (ok) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

 private:
  std::shared_ptr<InprocHub> hub_ = std::make_shared<InprocHub>();
  TestOptions options_;
  ExchangeTimings timings_;
  std::vector<std::unique_ptr<Node>> nodes_;
  StepFn running_fn_;
};

// The shards a store-based strategy holds at peer i: shard -> {owner, version, hash, sum}.
inline std::map<std::string, nlohmann::json> shards_of(Swarm& swarm, std::size_t i) {
  std::map<std::string, nlohmann::json> out;
  const nlohmann::json d = swarm.node(i).diagnostics();
  for (auto it = d["shards"].begin(); it != d["shards"].end(); ++it) out[it.key()] = it.value();
  return out;
}

// The peers ordered as LSGD ranks them: by their (fixed) training loss, ties by id.
inline std::vector<std::size_t> ranked_by_loss(Swarm& swarm) {
  std::vector<std::size_t> order(swarm.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const float la = swarm.node(a).model->last_loss(), lb = swarm.node(b).model->last_loss();
    return la != lb ? la < lb : swarm.node(a).id() < swarm.node(b).id();
  });
  return order;
}

// Deterministic pseudo-random floats in [-1, 1).
inline std::vector<float> random_vector(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& x : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x = static_cast<float>(static_cast<double>(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  return v;
}

}  // namespace gossip_test
