// `hier`: Hier-AVG (hierarchical SGD with sparse global reduction) — members form groups
// (topology module, --groups: one per host by default); every K1 local steps the parameters
// are averaged inside the group (a ring over the group's members), every K2 steps (a multiple
// of K1) across all members as well. Rounds: s / K1 for the group, s / K2 for all.
#include <fmt/format.h>

#include "chorus/error.h"
#include "peers/collective/ring_session.h"
#include "peers/strategies/strategy_kinds.h"

namespace chorus {
namespace {

class HierStrategy final : public Strategy {
 public:
  explicit HierStrategy(PeerServices& s) : services_(s), session_(s), k1_(s.options.k1), k2_(s.options.k2) {
    if (k1_ < 1 || k2_ < 1 || k2_ % k1_ != 0)
      throw UserError(fmt::format("hier: k1 and k2 must be at least 1 and k2 a multiple of k1 (got k1={}, k2={})",
                                  k1_, k2_));
  }
  std::string name() const override { return "hier"; }
  void finish() override { session_.serve(std::chrono::milliseconds(200)); }

  // A member whose step count differs from the others' (it resumed from an older checkpoint)
  // may be at a global boundary while they are at a group one: different collectives, neither
  // of which could finish. So every global boundary runs the group collective first (the
  // global average of group averages is the global average): its round tells a member that is
  // behind where the others are — it skips to their round and counts steps as they do — and
  // that member, now at the global boundary too, runs the global collective with them. The
  // price is one group average per K2 steps, inside the group (one host by default).
  void after_update(std::int64_t step) override {
    // Boundaries on the swarm's step count (RingSession::aligned).
    const std::int64_t s = session_.aligned(step);
    if (s % k1_ != 0) {  // k2 is a multiple of k1: no boundary at all
      session_.serve();
      return;
    }
    const std::span<float> x = services_.params.pull();
    bool done = session_.average(x, RingSession::Scope::group, step, k1_).status == CollectiveStatus::done;
    // A skipped group round moves this member's step count onto the others'.
    if (session_.aligned(step) % k2_ == 0)
      done = session_.average(x, RingSession::Scope::global, step, k2_).status == CollectiveStatus::done || done;
    if (done) services_.params.push();
  }

 private:
  PeerServices& services_;
  RingSession session_;
  int k1_, k2_;
};

}  // namespace

std::unique_ptr<Strategy> make_hier_strategy(PeerServices& services) {
  return std::make_unique<HierStrategy>(services);
}

}  // namespace chorus
