#pragma once
// One in-process peer's parts as the peer runtime holds them — transport on a shared
// InprocHub, real SWIM membership, a model on the CPU backend, its host parameters, log,
// stats, services and strategy — for tests that drive strategies without processes.
// start_inproc_members() creates and joins N of them (member i joins through member 0) and
// waits, bounded, until every member sees all N; the test then adds model and strategy.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/models/model.h"
#include "foundations/transport/inproc_transport.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/exchange/readiness.h"
#include "peers/membership/membership.h"

namespace chorus_test {

// A strategy and its options as a test gives them: option name (without dashes) and value as
// text, as on the command line.
struct StrategyChoice {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;
  // Sets option `option` (replacing an earlier value).
  StrategyChoice& set(const std::string& option, const std::string& value) {
    for (auto& [o, v] : options)
      if (o == option) {
        v = value;
        return *this;
      }
    options.emplace_back(option, value);
    return *this;
  }
};

struct InprocPeer {
  std::unique_ptr<chorus::Transport> transport;
  std::unique_ptr<chorus::Membership> membership;
  std::unique_ptr<chorus::Backend> backend;
  std::unique_ptr<chorus::Model> model;
  std::unique_ptr<chorus::HostParams> params;
  chorus::RunLog log;
  chorus::CommStats stats;
  std::unique_ptr<chorus::PeerServices> services;
  std::unique_ptr<chorus::Strategy> strategy;

  chorus::PeerId id() const { return transport->id(); }
  // Builds the services from the parts and the strategy `choice` from the registry.
  void start_strategy(const StrategyChoice& choice, std::uint64_t seed, chorus::ExchangeTimings timings = {}) {
    params = std::make_unique<chorus::HostParams>(*model);
    services = std::make_unique<chorus::PeerServices>(
        chorus::PeerServices{*transport, *membership, *model, *params, log, stats, seed, timings});
    strategy = chorus::make_strategy(*services, *chorus::strategy_settings(choice.name, choice.options));
  }
};

// Starts `peers` (already allocated, possibly of a type derived from InprocPeer) as members
// inproc://PREFIX-i on `hub`; `group(i)` labels member i (empty: no label). Returns whether
// every member saw all of them within `timeout`.
template <typename Peer>
bool start_inproc_members(const std::shared_ptr<chorus::InprocHub>& hub, std::vector<std::unique_ptr<Peer>>& peers,
                          const std::string& prefix, std::uint64_t swarm_id,
                          const std::function<std::string(std::size_t)>& group = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  for (std::size_t i = 0; i < peers.size(); ++i) {
    Peer& p = *peers[i];
    chorus::TransportConfig c;
    c.address = "inproc://" + prefix + "-" + std::to_string(i);
    c.swarm_id = swarm_id;
    c.log = [](const std::string&) {};
    p.transport = chorus::make_inproc_transport(hub, c);
    chorus::Member self{p.transport->id(), c.address, group ? group(i) : "", 0};
    std::vector<std::string> seeds;
    if (i > 0) seeds.push_back(peers[0]->transport->address());
    p.membership = std::make_unique<chorus::Membership>(*p.transport, self, seeds,
                                                        chorus::MembershipTimings::loopback());
  }
  for (auto& p : peers) p->membership->start();
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (auto& p : peers)
    while (p->membership->view().size() < peers.size()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  return true;
}

// Whether, within `timeout`, every member of `peers` knows that every other member's strategy
// runs (readiness.h): what a swarm that starts together waits for before its first step.
template <typename Peer>
bool wait_all_ready(std::vector<std::unique_ptr<Peer>>& peers,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (auto& p : peers)
    for (auto& q : peers)
      while (p != q && !chorus::readiness::is_ready(*p->membership, q->id())) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
  return true;
}

}  // namespace chorus_test
