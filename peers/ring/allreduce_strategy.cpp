// `allreduce`: all-reduce SGD — every step, before the optimizer runs, the gradients are
// averaged over all members by the ring all-reduce, so every member applies the same
// averaged gradient: g = (1/n) Σ g_i; x ← x − η g. The round of step s is s.
// The parameters are averaged too, in a collective of their own, at the first step and every
// kResyncEvery steps after it (by the swarm's step count): a peer that joined with slightly
// older parameters (state transfer), or came back from its own older checkpoint, converges
// with the others within that many steps. These rounds depend on the step alone, so every
// member makes them.
//
// Threading: everything on the training thread, inside the step (before_update). Each
// collective waits at most RingSession's timeout, and a dead member costs the time membership
// needs to declare it dead (ring_allreduce.h). A round that fails leaves the local gradient as
// it is.
//
// Why the resync rounds follow the step rather than changes of the member set: docs/ring.md,
// "Strategies".
#include "peers/exchange/host_copy.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/ring/ring_session.h"

namespace chorus {
namespace {

constexpr std::int64_t kResyncEvery = 100;  // steps between parameter averages

// No --overlap: the gradients are averaged inside every step, so there is nothing to overlap
// (kavg --k 1 --overlap S averages parameters beside training).
struct AllreduceOptions {
  bool dynamic_weights = false;
  void declare(OptionSet& set) {
    set.flag("dynamic-weights", dynamic_weights, "Weight each peer's contribution by how current it is");
  }
  void check() const {}
};

class AllreduceStrategy final : public Strategy {
 public:
  AllreduceStrategy(PeerServices& s, const AllreduceOptions& o)
      : services_(s), session_(s, {.groups = "host", .dynamic_weights = o.dynamic_weights}), grads_(s.model) {}
  void finish() override { session_.serve(std::chrono::milliseconds(200)); }
  bool wait_until_ready(const View& view, std::chrono::milliseconds timeout) override {
    return session_.wait_until_ready(view, timeout);
  }

  void before_update(std::int64_t step) override {
    session_.saw_step(step);
    const std::span<float> g = grads_.pull();
    const CollectiveOutcome out =
        session_.average(g, RingSession::Scope::global, step, 1, RingSession::Values::gradients);
    if (out.status == CollectiveStatus::done) grads_.push();  // else the local gradient, unchanged
    if (session_.aligned(step) % kResyncEvery != 1) return;
    const std::span<float> x = services_.params.pull();
    if (session_.average(x, RingSession::Scope::resync, step, 1).status == CollectiveStatus::done)
      services_.params.push();
  }
  void after_update(std::int64_t) override {}

 private:
  PeerServices& services_;
  RingSession session_;
  HostGrads grads_;
};

const bool registered = register_strategy<AllreduceStrategy, AllreduceOptions>(
    {"allreduce", "ring", "average the gradients every step (ring all-reduce SGD)", 10});

}  // namespace
}  // namespace chorus
