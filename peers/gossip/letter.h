#pragma once
// Letter: the unit the gossip, elastic, leader and store strategies exchange — a small head
// (what it is, which round, the sender's step, …) and optionally a run of float values.
//
// On the wire a letter is one control message (type kLetterHead, the encoded head) followed,
// when head.count > 0, by parameter chunks (type kLetterValues, sent with send_params, the
// chunks' tag = head.id). Both come from one thread in order; the receiver reassembles them by
// (sender, id). Encoding is fixed-width little endian with a version byte; decode() refuses
// anything of the wrong length or version (it never throws on bad input).
//
// Pure data and functions; no blocking, safe from any thread.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "foundations/transport/transport.h"
#include "foundations/wire/message_types.h"
#include "peers/gossip/letter_kinds.h"

namespace chorus::gossip {

inline constexpr std::uint16_t kLetterHead = msg::kGossip.at(0);
inline constexpr std::uint16_t kLetterValues = msg::kGossip.at(1);

struct LetterHead {
  std::uint16_t kind = 0;         // what the letter is (see letter_kinds.h)
  std::uint64_t id = 0;           // unique per sender (and incarnation); the chunks' tag
  std::uint64_t ref = 0;          // the id of the letter this one answers (0: none)
  std::uint64_t round = 0;        // exchange round / election round / request round
  std::int64_t step = 0;          // the sender's training step
  std::int64_t since_start = 0;   // the sender's local steps since its process (re)started
  std::uint64_t view = 0;         // the sender's view number
  double value = 0;               // a scalar (push-sum weight, loss, currency, ...)

  // Fields of one kind of letter each. On the wire they share two 8-byte words: encode()
  // writes there the fields of head.kind, decode() reads back only those; every other kind's
  // fields keep their defaults.
  struct Nack {                       // kElasticNack
    std::uint64_t clock = 0;          // the refusing peer's round clock
  } nack;
  struct Store {                      // kStoreRequest, kStoreReply, kStoreCopy
    std::uint64_t shard = 0;          // which shard
    StoreOp op{};                     // kStoreRequest: what the owner is asked to do
    StoreStatus status{};             // kStoreReply: the owner's answer
    std::uint64_t version = 0;        // kStoreCopy: updates applied to the shard
  } store;
  struct LeaderFetch {                // kLeaderFetch
    bool pulled = false;              // the fetcher pulled towards a copy of this leader before:
    std::uint64_t incarnation = 0;    // from this incarnation of the leader, at head.step
  } fetch;

  std::uint64_t count = 0;        // float values following the head
};

inline constexpr std::size_t kLetterHeadBytes = 1 + 2 + 8 * 10;

std::vector<std::byte> encode(const LetterHead& head);
std::optional<LetterHead> decode(std::span<const std::byte> bytes);

// A received letter, reassembled.
struct Letter {
  LetterHead head;
  PeerId from_id = 0;
  std::string from;                 // the sender's address
  std::uint64_t incarnation = 0;    // the sender's transport incarnation
  std::vector<float> values;        // head.count values
  double received_s = 0;            // when it was complete (steady clock, seconds)
};

}  // namespace chorus::gossip
