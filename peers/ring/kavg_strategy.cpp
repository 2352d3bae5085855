// `kavg`: K-step averaging SGD (Zhou & Cong) — each member takes K local steps, then the
// parameters are averaged over all members by the ring all-reduce: x_i ← (1/n) Σ x_j.
// K = 1 is parameter-averaging SGD. The round of (aligned) step s, a multiple of K, is s / K; between
// averagings the member keeps answering the others (a member that lost a round asks).
//
// Threading and waits (parameter_averaging.h): the average runs on the training thread, or
// with --overlap S on a merge thread while training goes on; each collective waits at most
// RingSession's timeout, and a dead member costs the time membership needs to declare it dead.
// Design and measurements: docs/ring.md.
#include "peers/exchange/strategy_registry.h"
#include "peers/ring/parameter_averaging.h"

namespace chorus {
namespace {

struct KavgOptions {
  int k = 8;
  MergeOptions merge;
  void declare(OptionSet& set) {
    set.integer("k", k, "Average the parameters every K steps", 1, 1000000);
    merge.declare(set);
  }
  void check() const {}
};

class KavgStrategy final : public ParameterAveraging {
 public:
  KavgStrategy(PeerServices& s, const KavgOptions& o) : ParameterAveraging(s, o.merge), k_(o.k) {}

 protected:
  bool boundary(std::int64_t aligned_step) const override { return aligned_step % k_ == 0; }
  bool average(std::span<float> x, std::int64_t step) override {
    return session().average(x, RingSession::Scope::global, step, k_).status == CollectiveStatus::done;
  }

 private:
  int k_;
};

const bool registered = register_strategy<KavgStrategy, KavgOptions>(
    {"kavg", "ring", "average the parameters every K steps (K-AVG)", 20});

}  // namespace
}  // namespace chorus
