// `hier`: Hier-AVG (hierarchical SGD with sparse global reduction) — members form groups
// (topology module, --groups: one per host by default); every K1 local steps the parameters
// are averaged inside the group (a ring over the group's members), every K2 steps (a multiple
// of K1) across all members instead. Rounds: s / K1 for the group, s / K2 for all.
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

  void after_update(std::int64_t step) override {
    // Boundaries on the swarm's step count, so a member that joined with a different count
    // runs the same collective (group or global) as the others at each step.
    const std::int64_t s = session_.aligned(step);
    const bool global = s % k2_ == 0, group = s % k1_ == 0;
    if (!global && !group) {
      session_.serve();
      return;
    }
    const std::span<float> x = services_.params.pull();
    const CollectiveOutcome out = global ? session_.average(x, RingSession::Scope::global, step, k2_)
                                         : session_.average(x, RingSession::Scope::group, step, k1_);
    if (out.status == CollectiveStatus::done) services_.params.push();
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
