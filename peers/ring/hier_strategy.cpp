// `hier`: Hier-AVG (hierarchical SGD with sparse global reduction) — members form groups
// (topology module, --groups: one per host by default); every K1 local steps the parameters
// are averaged inside the group (a ring over the group's members), every K2 steps (a multiple
// of K1) across all members as well. Rounds: s / K1 for the group, s / K2 for all.
//
// Threading and waits (parameter_averaging.h): both run on the training thread, or with
// --overlap S on a merge thread while training goes on; each collective waits at most
// RingSession's timeout, and a dead member costs the time membership needs to declare it dead.
// Design and measurements: docs/ring.md.
#include <fmt/format.h>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/ring/parameter_averaging.h"

namespace chorus {
namespace {

struct HierOptions {
  int k1 = 4, k2 = 16;
  std::string groups = "host";
  MergeOptions merge;
  void declare(OptionSet& set) {
    set.integer("k1", k1, "Average within the group every K1 steps", 1, 1000000);
    set.integer("k2", k2, "Average across all peers every K2 steps (a multiple of K1)", 1, 1000000);
    declare_groups_option(set, groups);
    merge.declare(set);
  }
  void check() const {
    if (k2 % k1 != 0) throw UserError(fmt::format("hier: --k2 must be a multiple of --k1 (got k1={}, k2={})", k1, k2));
  }
};

class HierStrategy final : public ParameterAveraging {
 public:
  HierStrategy(PeerServices& s, const HierOptions& o) : ParameterAveraging(s, o.merge, o.groups), k1_(o.k1), k2_(o.k2) {}

 protected:
  // Boundaries on the swarm's step count (RingSession::aligned); k2 is a multiple of k1.
  bool boundary(std::int64_t aligned_step) const override { return aligned_step % k1_ == 0; }

  // A member whose step count differs from the others' (it resumed from an older checkpoint)
  // may be at a global boundary while they are at a group one: different collectives, neither
  // of which could finish. So every global boundary runs the group collective first (the
  // global average of group averages is the global average): its round tells a member that is
  // behind where the others are — it skips to their round and counts steps as they do — and
  // that member, now at the global boundary too, runs the global collective with them. The
  // price is one group average per K2 steps, inside the group (one host by default).
  bool average(std::span<float> x, std::int64_t step) override {
    bool done = session().average(x, RingSession::Scope::group, step, k1_).status == CollectiveStatus::done;
    // A skipped group round moves this member's step count onto the others'.
    if (session().aligned(step) % k2_ == 0)
      done = session().average(x, RingSession::Scope::global, step, k2_).status == CollectiveStatus::done || done;
    return done;
  }

 private:
  int k1_, k2_;
};

const bool registered = register_strategy<HierStrategy, HierOptions>(
    {"hier", "ring", "average in the group every K1 steps, across all every K2 (Hier-AVG)", 30});

}  // namespace
}  // namespace chorus
