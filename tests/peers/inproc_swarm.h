#pragma once
// An in-process swarm for the membership tests: many members, each on its own in-process
// transport of one hub, that a test can start, kill (destroy, without a leave), restart (same
// address and id, a newer transport incarnation), freeze and thaw (every transport call
// blocks meanwhile, as in a stopped process) and make leave. Every member's events are
// logged with the time they happened.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "foundations/transport/inproc_transport.h"
#include "peers/membership/membership.h"
#include "tests/test_util.h"

namespace membership_test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Forwards to a transport; while frozen, every call (but the identity getters) waits.
class FreezableTransport final : public chorus::Transport {
 public:
  explicit FreezableTransport(std::unique_ptr<chorus::Transport> inner) : inner_(std::move(inner)) {}
  void freeze() {
    std::lock_guard lock(mutex_);
    frozen_ = true;
  }
  void thaw() {
    std::lock_guard lock(mutex_);
    frozen_ = false;
    cv_.notify_all();
  }
  chorus::Transport& inner() { return *inner_; }

  const std::string& address() const override { return inner_->address(); }
  chorus::PeerId id() const override { return inner_->id(); }
  std::uint64_t incarnation() const override { return inner_->incarnation(); }
  chorus::SendStatus send(const std::string& to, std::uint16_t type, std::span<const std::byte> payload,
                          std::chrono::milliseconds timeout) override {
    wait_thawed();
    return inner_->send(to, type, payload, timeout);
  }
  chorus::SendResult send_params(const std::string& to, const chorus::ParamSend& meta, std::span<const float> data,
                                 std::chrono::milliseconds timeout) override {
    wait_thawed();
    return inner_->send_params(to, meta, data, timeout);
  }
  std::optional<chorus::ReceivedMessage> receive(std::chrono::milliseconds timeout, chorus::TypeRange types) override {
    wait_thawed();
    return inner_->receive(timeout, types);
  }
  void forget(const std::string& to) override {
    wait_thawed();
    inner_->forget(to);
  }
  chorus::RejectionCounts rejections() const override { return inner_->rejections(); }

 private:
  void wait_thawed() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !frozen_; });
  }
  std::unique_ptr<chorus::Transport> inner_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool frozen_ = false;
};

struct LoggedEvent {
  std::size_t observer;  // index of the member that saw it
  int life;              // which start of that member (restarts count up)
  chorus::MembershipEvent event;
  Clock::time_point at;
};

class InprocSwarm {
 public:
  explicit InprocSwarm(chorus::MembershipTimings timings) : timings_(timings) {}
  ~InprocSwarm() {
    for (auto& p : peers_)
      if (p.transport) p.transport->thaw();
    for (auto& p : peers_) p.membership.reset();
  }

  static std::string address_of(std::size_t i) { return "inproc://member-" + std::to_string(i); }

  // Starts member `index` (a new one when index == size()) with these seeds; returns start().
  bool start(std::size_t index, std::vector<std::string> seeds) {
    if (index >= peers_.size()) peers_.resize(index + 1);
    Peer& p = peers_[index];
    const int life = ++p.lives;
    chorus::TransportConfig config;
    config.address = address_of(index);
    config.swarm_id = 77;
    p.transport = std::make_unique<FreezableTransport>(chorus::make_inproc_transport(hub_, config));
    chorus::Member self;
    self.id = p.transport->id();
    self.address = p.transport->address();
    self.group = index % 2 ? "odd" : "even";
    p.membership = std::make_unique<chorus::Membership>(*p.transport, self, std::move(seeds), timings_);
    p.membership->on_change([this, index, life](const chorus::MembershipEvent& e) {
      std::lock_guard lock(log_mutex_);
      log_.push_back({index, life, e, Clock::now()});
    });
    return p.membership->start();
  }

  // Ends member `index` as a crash would: no leave, its address unregistered.
  void kill(std::size_t index) {
    Peer& p = peers_.at(index);
    if (p.transport) p.transport->thaw();
    p.membership.reset();
    p.transport.reset();
  }

  chorus::Membership& member(std::size_t index) { return *peers_.at(index).membership; }
  FreezableTransport& transport(std::size_t index) { return *peers_.at(index).transport; }
  bool running(std::size_t index) const { return index < peers_.size() && peers_[index].membership != nullptr; }
  std::size_t size() const { return peers_.size(); }
  chorus::PeerId id_of(std::size_t index) { return peers_.at(index).transport->id(); }

  std::vector<std::size_t> running_members() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < peers_.size(); ++i)
      if (running(i)) out.push_back(i);
    return out;
  }

  std::vector<LoggedEvent> events() const {
    std::lock_guard lock(log_mutex_);
    return log_;
  }
  std::vector<LoggedEvent> events_about(chorus::PeerId id, chorus::MembershipEvent::Kind kind) const {
    std::vector<LoggedEvent> out;
    for (const auto& e : events())
      if (e.event.member.id == id && e.event.kind == kind) out.push_back(e);
    return out;
  }

  // Whether every running member holds a view of exactly the running members, all with the
  // same number.
  bool agree() const {
    std::set<chorus::PeerId> expect;
    for (std::size_t i : running_members()) expect.insert(peers_[i].transport->id());
    std::optional<std::uint64_t> number;
    for (std::size_t i : running_members()) {
      const chorus::View v = peers_[i].membership->view();
      std::set<chorus::PeerId> got;
      for (const auto& m : v.members) got.insert(m.id);
      if (got != expect) return false;
      if (number && *number != v.number) return false;
      number = v.number;
    }
    return true;
  }

 private:
  struct Peer {
    std::unique_ptr<FreezableTransport> transport;
    std::unique_ptr<chorus::Membership> membership;
    int lives = 0;
  };
  chorus::MembershipTimings timings_;
  std::shared_ptr<chorus::InprocHub> hub_ = std::make_shared<chorus::InprocHub>();
  std::vector<Peer> peers_;
  mutable std::mutex log_mutex_;
  std::vector<LoggedEvent> log_;
};

// chorus_test::eventually() polling every 10 ms, the condition first as these tests write it.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  return chorus_test::eventually(timeout, done, 10ms);
}

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace membership_test
