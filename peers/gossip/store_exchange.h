#pragma once
// StoreExchange: what the strategies built on a ShardedStore share (easgd's center, downpour's
// parameters): the store on the strategy's channel, an exchange with it every tau steps — on
// the merge thread with --overlap — and the hand-over of the shards this peer holds when it
// leaves. A strategy supplies round(): one exchange of the snapshot with the store.
//
// Threads as PeerExchange's (peer_exchange.h); round() runs on one thread at a time (the merge
// thread, or the training thread when synchronous). A derived strategy calls stop() first thing
// in its destructor, before the state round() uses goes away.
#include <span>
#include <vector>

#include "peers/gossip/peer_exchange.h"
#include "peers/gossip/sharded_store.h"

namespace chorus::gossip {

template <typename Options>
class StoreExchange : public PeerExchangeOf<Options> {
 public:
  ~StoreExchange() override { stop(); }
  nlohmann::json diagnostics() const override { return store_.diagnostics(); }

 protected:
  // `rate`: the store's elastic moving rate (1: its values replace the sender's).
  StoreExchange(PeerServices& services, const Options& options, float rate)
      : PeerExchangeOf<Options>(services, options),
        store_(this->channel(), services.membership, services.transport.id(), services.model.size(),
               StoreConfig{rate, options.merge.dynamic_weights, DynamicWeightConfig{}}) {}

  // One exchange of the snapshot `s` with the store; whether `s` changed.
  virtual bool round(std::vector<float>& s) = 0;
  ShardedStore& store() { return store_; }
  // Closes the store's mailbox (a waiting round gives up) and stops the threads.
  void stop() {
    store_.close();
    this->shutdown();
  }

 private:
  bool due(std::int64_t step) final { return step % this->options().tau == 0; }
  bool exchange(std::int64_t step, std::span<float> params) final {
    return this->merge().begin(params, step, [this](std::vector<float>& s) { return round(s); });
  }
  bool leaving(std::span<float>) final {
    store_.hand_over();
    return false;
  }

  ShardedStore store_;
};

}  // namespace chorus::gossip
