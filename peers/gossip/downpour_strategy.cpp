// `downpour` (Downpour SGD): asynchronous delayed-update SGD against a parameter store sharded
// across the peers (ShardedStore, sharded_store.h) — the baseline the other strategies are
// compared with. Every τ steps a peer pushes its accumulated local update Δ = x − x_fetched
// (the sum of its optimizer steps since its last fetch, each computed on parameters that other
// peers have since moved: the delayed gradient), divided by the number of peers n so that the
// store moves at a single process's step size, to the shard owners, which add it
// (θ_k ← θ_k + Δ_k/n, or + c·Δ_k/n with --dynamic-weights, c the sender's currency), and takes
// back the store's θ as its parameters. A shard the store does not hold yet is first
// initialised from the pushing peer's parameters. A shard whose answer does not come in time
// counts as applied (Δ is never pushed twice).
//
// Threading: exchange() on the training thread; the push/fetch round on the merge thread with
// --overlap S >= 0 (x ← θ + (x − s), so the steps taken meanwhile go into the next Δ), else
// inline; the store shards live on the channel thread. Waits are bounded by
// ExchangeTimings::exchange_timeout and skip an owner as soon as it leaves the view. finish() hands
// every held shard to its next owners.
//
// Design notes and measurements: docs/gossip.md, "downpour".
#include "foundations/base/error.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/gossip/store_exchange.h"

namespace chorus {
namespace {

using namespace gossip;

struct DownpourOptions {
  int tau = 4;
  MergeOptions merge;
  void declare(OptionSet& set) {
    declare_tau_option(set, tau);
    merge.declare(set);
  }
  void check() const {}
};

class DownpourStrategy final : public StoreExchange<DownpourOptions> {
 public:
  DownpourStrategy(PeerServices& services, const DownpourOptions& o) : StoreExchange(services, o, 1.0f) { start(); }
  ~DownpourStrategy() override { stop(); }

 private:
  // Push Δ, fetch the store's values.
  bool round(std::vector<float>& s) override {
    if (base_.size() != s.size()) base_ = s;
    // n workers push n updates for every one of a single process: each pushes Δ/n, so the
    // store moves at the single-process step size (the peer's own progress beyond that is
    // replaced by the store's parameters on fetch).
    const float share = 1.0f / static_cast<float>(std::max<std::size_t>(1, view().size()));
    std::vector<float> delta(s.size());
    for (std::size_t j = 0; j < s.size(); ++j) delta[j] = share * (s[j] - base_[j]);
    const LetterHead h = head(kStoreRequest);
    auto answers = store().request_all(StoreOp::add_fetch, delta, h, deadline(), [this] { return stopping(); });
    std::vector<bool> missing(answers.size(), false);
    bool any_missing = false;
    for (std::size_t k = 0; k < answers.size(); ++k)
      if (answers[k] && answers[k]->status == StoreStatus::missing) missing[k] = any_missing = true;
    if (any_missing) {
      const auto init = store().request_all(StoreOp::init, s, h, deadline(), [this] { return stopping(); }, missing);
      for (std::size_t k = 0; k < answers.size(); ++k)
        if (missing[k]) answers[k] = init[k];
    }
    bool changed = false;
    for (std::size_t k = 0; k < answers.size(); ++k) {
      const auto [b, e] = store().range(k);
      const auto& a = answers[k];
      if (a && a->status == StoreStatus::ok && a->values.size() == e - b) {
        std::copy(a->values.begin(), a->values.end(), s.begin() + static_cast<std::ptrdiff_t>(b));
        std::copy(a->values.begin(), a->values.end(), base_.begin() + static_cast<std::ptrdiff_t>(b));
        changed = true;
      } else if (!a || a->status != StoreStatus::not_owner) {
        // No answer (maybe applied) or still missing: never push this Δ again.
        std::copy(s.begin() + static_cast<std::ptrdiff_t>(b), s.begin() + static_cast<std::ptrdiff_t>(e),
                  base_.begin() + static_cast<std::ptrdiff_t>(b));
      }
    }
    return changed;
  }

  std::vector<float> base_;  // x as last fetched (per shard), the origin of the next Δ
};

const bool registered = register_strategy<DownpourStrategy, DownpourOptions>(
    {"downpour", "baseline", "asynchronous delayed-gradient SGD on a sharded parameter store (Downpour)", 80});

}  // namespace
}  // namespace chorus
