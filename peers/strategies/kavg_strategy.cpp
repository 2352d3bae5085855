// `kavg`: K-step averaging SGD (Zhou & Cong) — each member takes K local steps, then the
// parameters are averaged over all members by the ring all-reduce: x_i ← (1/n) Σ x_j.
// K = 1 is parameter-averaging SGD. The round of (aligned) step s, a multiple of K, is s / K; between
// averagings the member keeps answering the others (a member that lost a round asks).
#include <fmt/format.h>

#include "chorus/error.h"
#include "peers/collective/ring_session.h"
#include "peers/strategies/strategy_kinds.h"

namespace chorus {
namespace {

class KavgStrategy final : public Strategy {
 public:
  explicit KavgStrategy(PeerServices& s) : services_(s), session_(s), k_(s.options.k) {
    if (k_ < 1) throw UserError(fmt::format("kavg: k must be at least 1 (got {})", k_));
  }
  std::string name() const override { return "kavg"; }
  void finish() override { session_.serve(std::chrono::milliseconds(200)); }

  void after_update(std::int64_t step) override {
    if (session_.aligned(step) % k_ != 0) {
      session_.serve();
      return;
    }
    const std::span<float> x = services_.params.pull();
    const CollectiveOutcome out = session_.average(x, RingSession::Scope::global, step, k_);
    if (out.status == CollectiveStatus::done) services_.params.push();
  }

 private:
  PeerServices& services_;
  RingSession session_;
  int k_;
};

}  // namespace

std::unique_ptr<Strategy> make_kavg_strategy(PeerServices& services) {
  return std::make_unique<KavgStrategy>(services);
}

}  // namespace chorus
