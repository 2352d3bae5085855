#pragma once
// Many ring members in one process: in-process transports on one hub, a view that the test
// changes by hand (the "membership"), and helpers to run one collective per member on its own
// thread.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "foundations/transport/inproc_transport.h"
#include "peers/ring/ring_allreduce.h"
#include "tests/ring/ring_values.h"

namespace ring_test {

using namespace chorus;

// A view every member reads; remove() is how a test "kills" a member as membership would.
class FakeViews {
 public:
  void set(std::vector<RingMember> members) {
    std::lock_guard lock(mutex_);
    view_.members = std::move(members);
    ++view_.number;
  }
  void remove(PeerId id) {
    std::lock_guard lock(mutex_);
    std::erase_if(view_.members, [&](const RingMember& m) { return m.id == id; });
    ++view_.number;
  }
  RingView view() const {
    std::lock_guard lock(mutex_);
    return view_;
  }
  bool alive(PeerId id) const {
    std::lock_guard lock(mutex_);
    for (const auto& m : view_.members)
      if (m.id == id) return true;
    return false;
  }

 private:
  mutable std::mutex mutex_;
  RingView view_;
};

// N in-process transports named inproc://ring-<tag>-<i>, ids 1000+i.
class InprocRing {
 public:
  InprocRing(std::size_t n, const std::string& tag, RingOptions options = {})
      : InprocRing(n, tag, [&](std::size_t) { return options; }) {}
  InprocRing(std::size_t n, const std::string& tag, const std::function<RingOptions(std::size_t)>& options_of)
      : hub_(std::make_shared<InprocHub>()) {
    std::vector<RingMember> members;
    for (std::size_t i = 0; i < n; ++i) {
      TransportConfig c;
      c.address = "inproc://ring-" + tag + "-" + std::to_string(i);
      c.id = 1000 + i;
      c.log = [](const std::string&) {};
      transports_.push_back(make_inproc_transport(hub_, c));
      rings_.push_back(std::make_unique<RingAllreduce>(*transports_.back(), options_of(i)));
      members.push_back({c.id, c.address});
    }
    views_.set(members);
  }
  std::size_t size() const { return transports_.size(); }
  RingAllreduce& ring(std::size_t i) { return *rings_[i]; }
  // Adds member i (created with the others) to the view, as membership would on a join.
  void admit(std::size_t i) {
    auto v = views_.view();
    v.members.push_back({id(i), transports_[i]->address()});
    views_.set(std::move(v.members));
  }
  void leave_out(std::size_t i) { views_.remove(id(i)); }
  Transport& transport(std::size_t i) { return *transports_[i]; }
  FakeViews& views() { return views_; }
  PeerId id(std::size_t i) const { return 1000 + i; }
  // Kills member i: gone from the view, its transport unregistered (queued frames dropped).
  void kill(std::size_t i) {
    views_.remove(id(i));
    rings_[i].reset();
    transports_[i].reset();
  }
  CollectiveRequest request(std::uint64_t round, ReduceOp op = ReduceOp::sum) {
    CollectiveRequest r;
    r.scope = collective_scope("test");
    r.round = round;
    r.op = op;
    r.view = [this] { return views_.view(); };
    r.alive = [this](PeerId id) { return views_.alive(id); };
    r.timeout = std::chrono::seconds(20);
    return r;
  }

 private:
  std::shared_ptr<InprocHub> hub_;
  std::vector<std::unique_ptr<Transport>> transports_;
  std::vector<std::unique_ptr<RingAllreduce>> rings_;
  FakeViews views_;
};

// Runs body(i) on one thread per member and waits for all.
inline void on_each(std::size_t n, const std::function<void(std::size_t)>& body) {
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i) threads.emplace_back(body, i);
  for (auto& t : threads) t.join();
}

}  // namespace ring_test
