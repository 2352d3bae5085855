// `kavg`: K-step averaging SGD (Zhou & Cong) — each member takes K local steps, then the
// parameters are averaged over all members by the ring all-reduce: x_i ← (1/n) Σ x_j.
// K = 1 is parameter-averaging SGD. The round of (aligned) step s, a multiple of K, is s / K; between
// averagings the member keeps answering the others (a member that lost a round asks).
// With --overlap S the average runs on a merge thread while training goes on (parameter_averaging.h).
#include <fmt/format.h>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_kinds.h"
#include "peers/ring/parameter_averaging.h"

namespace chorus {
namespace {

class KavgStrategy final : public ParameterAveraging {
 public:
  explicit KavgStrategy(PeerServices& s) : ParameterAveraging(s), k_(s.options.k) {
    if (k_ < 1) throw UserError(fmt::format("kavg: k must be at least 1 (got {})", k_));
  }
  std::string name() const override { return "kavg"; }

 protected:
  bool boundary(std::int64_t aligned_step) const override { return aligned_step % k_ == 0; }
  bool average(std::span<float> x, std::int64_t step) override {
    return session().average(x, RingSession::Scope::global, step, k_).status == CollectiveStatus::done;
  }

 private:
  int k_;
};

}  // namespace

std::unique_ptr<Strategy> make_kavg_strategy(PeerServices& services) {
  return std::make_unique<KavgStrategy>(services);
}

}  // namespace chorus
