// `easgd` (EASGD, asynchronous form): every τ steps peer i moves towards the center variable
// x̃ and the center towards it, shard by shard:
//     d = α (x_i − x̃_k);   x_i ← x_i − d;   x̃_k ← x̃_k + d
// where the center is a ShardedStore (sharded_store.h): each shard owned by a live peer with a
// replica on the next owner, answered by the owner's channel thread — no server, and a shard
// survives its owner's death. Both sides compute d from the same two values (the owner replies
// with x̃_k as it was before the update), so x_i + x̃ is preserved exactly up to rounding.
// With --dynamic-weights the owner moves the center by α·c (c = the sender's currency: steps
// behind the newest it has seen, steps since restart) and the sender moves by α + (1−α)(1−c):
// a peer returning with stale parameters barely moves the center and is pulled to it.
// A shard answered after the wait gave up is applied as a correction at a later step.
//
// Threading: exchange() on the training thread; the round of requests on the merge thread with
// --overlap S >= 0 (x ← x̄ + (x − s)), else inline; the center shards live on the channel
// thread (ShardedStore). Waits are bounded by ExchangeTimings::exchange_timeout and skip an owner as
// soon as it leaves the view. finish() hands every held shard to its next owners.
//
// Design notes and measurements: docs/gossip.md, "easgd".
#include "foundations/base/error.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/gossip/store_exchange.h"

namespace chorus {
namespace {

using namespace gossip;

struct EasgdOptions {
  float alpha = 0.5f;
  int tau = 4;
  MergeOptions merge;
  void declare(OptionSet& set) {
    set.real("alpha", alpha, "Moving rate of the elastic exchange", Interval::left_open(0, 1));
    declare_tau_option(set, tau);
    merge.declare(set);
  }
  void check() const {}
};

class EasgdStrategy final : public StoreExchange<EasgdOptions> {
 public:
  EasgdStrategy(PeerServices& services, const EasgdOptions& o) : StoreExchange(services, o, o.alpha) {
    store().on_late([this](std::size_t shard, std::span<const float> sent, const ShardAnswer& a) {
      if (a.status != StoreStatus::ok || a.values.size() != sent.size()) return;
      const float rate = pull_rate(a.currency);
      std::vector<float> delta(sent.size());
      for (std::size_t j = 0; j < sent.size(); ++j) delta[j] = -(rate * (sent[j] - a.values[j]));
      add_correction(store().range(shard).first, delta, 1.0f);
    });
    start();
  }
  ~EasgdStrategy() override { stop(); }

 private:
  float pull_rate(double c) const {
    const float alpha = options().alpha;
    if (!dynamic()) return alpha;
    return static_cast<float>(alpha + (1.0 - alpha) * (1.0 - c));
  }

  // The elastic exchange with the center.
  bool round(std::vector<float>& s) override {
    const auto answers = store().request_all(StoreOp::elastic, s, head(kStoreRequest), deadline(),
                                            [this] { return stopping(); });
    bool changed = false;
    for (std::size_t k = 0; k < answers.size(); ++k) {
      const auto& a = answers[k];
      if (!a || a->status != StoreStatus::ok) continue;
      const auto [b, e] = store().range(k);
      if (a->values.size() != e - b) continue;
      const float rate = pull_rate(a->currency);
      for (std::size_t j = b; j < e; ++j) s[j] = s[j] - rate * (s[j] - a->values[j - b]);
      changed = true;
    }
    return changed;
  }
};

const bool registered = register_strategy<EasgdStrategy, EasgdOptions>(
    {"easgd", "elastic", "elastic averaging with a center sharded over the live peers (EASGD without a server)", 60});

}  // namespace
}  // namespace chorus
