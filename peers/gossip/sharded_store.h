#pragma once
// ShardedStore: a float vector (the EASGD center variable, the Downpour parameter store)
// split into shards that live on the swarm's members — no server.
//
// Placement is a pure function of the view (rendezvous hashing): shard k's owner is the member
// with the highest splitmix64 score for (k, member id), its replica holder the second highest.
// When the owner leaves or dies, the replica holder *is* the new owner (the rendezvous order of
// the others does not change), and it already holds the shard; the new second-highest member
// then receives a copy. When a member joins and becomes an owner, the previous holders hand the
// shard over. So a shard is never lost while one of its holders lives. Every holder keeps a
// version (updates applied); a copy never replaces a newer one.
//
// Operations (StoreOp), each a request letter from a peer to the owner of one shard, answered
// by the owner's channel thread at once:
//   elastic   EASGD: reply x̃ (the value before), then x̃ ← x̃ + α c (x − x̃); c = 1, or the
//             sender's currency with dynamic weights (replied in head.value). A shard not held
//             yet starts at the sender's x.
//   add_fetch Downpour: x̃ ← x̃ + c Δ, reply x̃. A shard not held yet answers `missing`.
//   init      x̃ ← data if the shard is not held yet; reply x̃.
// The owner's updates reach the replica holder on the next tick (ExchangeTimings::tick) as a copy.
// A request to a member that is not the owner in its own view is answered `not_owner`; the
// requester skips that shard this time.
//
// Threading: the handlers and the tick run on the channel thread; request_all() runs on the
// training or merge thread and waits, bounded by `deadline`, giving up on an owner as soon as
// it leaves the view. A reply that arrives after its wait gave up is passed to the late
// handler (channel thread). All state is under one mutex; diagnostics() is thread-safe.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <vector>

#include "peers/exchange/dynamic_weights.h"
#include "peers/gossip/gossip_channel.h"
#include "peers/gossip/letter_kinds.h"
#include "peers/gossip/mailbox.h"
#include "peers/membership/membership.h"

namespace chorus::gossip {

struct StoreConfig {
  float alpha = 0.5f;  // elastic rate of the center
  bool dynamic = false;
  DynamicWeightConfig weights;
};

struct ShardAnswer {
  StoreStatus status = StoreStatus::ok;
  double currency = 1.0;      // what the owner weighted the request by
  std::vector<float> values;  // per op (see above); empty unless ok
};

class ShardedStore {
 public:
  // Registers its handlers and tick on `channel` (call before channel.start()).
  ShardedStore(GossipChannel& channel, Membership& membership, PeerId self, std::size_t total, StoreConfig config);

  std::size_t shards() const { return shards_; }
  std::pair<std::size_t, std::size_t> range(std::size_t shard) const;  // [begin, end)
  static std::size_t shard_count_for(std::size_t total);
  // The owner and the replica holder of `shard` in `view` (nullopt for an empty view / no
  // second member).
  static std::optional<PeerId> owner(const View& view, std::size_t shard);
  static std::optional<PeerId> replica(const View& view, std::size_t shard);

  // Sends op(data[range(k)]) for every shard k to its owner (or applies it here when this peer
  // owns k) and waits for the answers; answers[k] is nullopt when none came in time.
  // `head` carries the sender's step/since_start/view (dynamic weights).
  // `only`, when not empty, limits the request to the shards k with only[k] true.
  std::vector<std::optional<ShardAnswer>> request_all(StoreOp op, std::span<const float> data, const LetterHead& head,
                                                      Mailbox::Clock::time_point deadline,
                                                      const std::function<bool()>& stopping,
                                                      const std::vector<bool>& only = {});
  // Called (channel thread) for an answer whose wait had given up: the shard, the data that
  // was sent, the answer.
  void on_late(std::function<void(std::size_t shard, std::span<const float> sent, const ShardAnswer&)> late) {
    late_ = std::move(late);
  }
  // Hands every held shard to its owner in `view`-independent fashion before this peer leaves.
  void hand_over();
  void close() { mailbox_.close(); }

  // Shards held here: {shard: {owner, version, sum, hash}} (thread-safe).
  nlohmann::json diagnostics() const;
  // A copy of a held shard's value and version (tests).
  std::optional<std::pair<std::uint64_t, std::vector<float>>> held(std::size_t shard) const;

 private:
  struct Shard {
    std::uint64_t version = 0;
    bool dirty = false;  // updated since the replica was last sent a copy
    std::vector<float> value;
  };
  struct Outstanding {
    std::size_t shard;
    std::vector<float> sent;
    PeerId owner;
  };

  ShardAnswer apply_locked(StoreOp op, std::size_t shard, std::span<const float> data, const LetterHead& head);
  void on_request(Letter&& l);
  void on_reply(Letter&& l);
  void on_copy(Letter&& l);
  void tick();
  // Sends a copy of a shard; returns whether the transport took it within `timeout`.
  bool send_copy(const std::string& to, std::size_t shard, const Shard& s, std::chrono::milliseconds timeout);

  GossipChannel& channel_;
  Membership& membership_;
  const PeerId self_;
  const std::size_t total_, shards_;
  const StoreConfig config_;
  Mailbox mailbox_;
  std::function<void(std::size_t, std::span<const float>, const ShardAnswer&)> late_;

  mutable std::mutex mutex_;
  std::map<std::size_t, Shard> held_;
  std::map<std::uint64_t, Outstanding> waiting_;    // request id -> request, while waited on
  std::map<std::uint64_t, Outstanding> abandoned_;  // request id -> request, wait gave up
  std::int64_t newest_step_ = 0;
  std::uint64_t view_number_ = 0;
};

}  // namespace chorus::gossip
