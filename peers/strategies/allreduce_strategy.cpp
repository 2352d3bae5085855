// `allreduce`: all-reduce SGD — every step, before the optimizer runs, the gradients are
// averaged over all members by the ring all-reduce, so every member applies the same
// averaged gradient: g = (1/n) Σ g_i; x ← x − η g. The round of step s is s.
//
// The same gradient keeps identical parameters identical, so whenever the set of members
// behind the average changes (the first step, a join, a death) the parameters are averaged
// once too: a peer that joined with slightly older parameters (state transfer) or none
// converges with the others instead of drifting beside them. Every member of the round sees
// the same member set, so all of them make that extra collective or none.
#include "chorus/error.h"
#include "peers/collective/ring_session.h"
#include "peers/host_grads.h"
#include "peers/strategies/strategy_kinds.h"

namespace chorus {
namespace {

class AllreduceStrategy final : public Strategy {
 public:
  explicit AllreduceStrategy(PeerServices& s) : services_(s), session_(s), grads_(s.model) {
    if (s.options.overlap >= 0)
      throw UserError("allreduce averages the gradients inside every step, so --overlap has nothing to overlap; "
                      "use kavg --k 1 --overlap S to average parameters beside training");
  }
  std::string name() const override { return "allreduce"; }
  void finish() override { session_.serve(std::chrono::milliseconds(200)); }
  bool wait_until_ready(const View& view, std::chrono::milliseconds timeout) override {
    return session_.wait_until_ready(view, timeout);
  }

  void before_update(std::int64_t step) override {
    session_.saw_step(step);
    const std::span<float> g = grads_.pull();
    const CollectiveOutcome out =
        session_.average(g, RingSession::Scope::global, step, 1, RingSession::Values::gradients);
    if (out.status != CollectiveStatus::done) return;  // the local gradient, unchanged
    grads_.push();
    if (out.member_set == member_set_) return;
    member_set_ = out.member_set;
    const std::span<float> x = services_.params.pull();
    if (session_.average(x, RingSession::Scope::resync, step, 1).status ==
        CollectiveStatus::done)
      services_.params.push();
  }
  void after_update(std::int64_t) override {}

 private:
  PeerServices& services_;
  RingSession session_;
  HostGrads grads_;
  std::uint64_t member_set_ = 0;  // whose gradients the last average combined
};

}  // namespace

std::unique_ptr<Strategy> make_allreduce_strategy(PeerServices& services) {
  return std::make_unique<AllreduceStrategy>(services);
}

}  // namespace chorus
