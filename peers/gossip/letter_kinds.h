#pragma once
// The kinds of letters (letter.h) the gossip-family strategies send. One list so two strategies
// never reuse a kind.
#include <cstdint>

namespace chorus::gossip {

enum Kind : std::uint16_t {
  // 3 is reserved (it named the start-up greeting; readiness is membership metadata:
  // peers/exchange/readiness.h), so that no other letter takes its value.
  // elastic-gossip: a peer's parameters for one exchange round; a refusal of that round; the
  // answer to an offer that arrived before the receiver reached its round (overlapped runs).
  kElasticOffer = 1,
  kElasticNack = 2,
  kElasticReply = 4,
  // gossip: a peer's parameters for one averaging round (pull); a push-sum share.
  kPullValue = 10,
  kPushShare = 11,
  // sharded store (easgd center, downpour parameters): request, reply, replica/hand-over copy.
  kStoreRequest = 20,
  kStoreReply = 21,
  kStoreCopy = 22,
  // lsgd: a loss report for one election round; a fetch of the leader's parameters; the answer.
  kLossReport = 30,
  kLeaderFetch = 31,
  kLeaderParams = 32,
};

// What a kStoreRequest asks of a shard's owner, and what its kStoreReply says (see
// sharded_store.h); 0 names neither (a head that does not set them).
enum class StoreOp : std::uint64_t { elastic = 1, add_fetch = 2, init = 3 };
enum class StoreStatus : std::uint64_t { ok = 0, missing = 1, not_owner = 2 };

}  // namespace chorus::gossip
