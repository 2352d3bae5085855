#pragma once
// The collective's messages (all in msg::kCollective) and their byte layouts.
//
//   kHello   who runs what (key, scope, round, view, members, generation), to the right
//            neighbour right after the attempt's first chunk; how a member learns that a
//            neighbour runs another attempt of the same round (newer or older view, or a later
//            generation: a retry on the same view after every member had given it up) or
//            another round
//   kChunk   a chunk of the ring (parameter message): tag = attempt key, step = the bits of
//            the double weight carried by the partial sum (reduce-scatter) or the total
//            weight (all-gather); offset/total_elements place it in the buffer
//   kAbort   "I abandoned attempt `key`", to the right neighbour (who waits on this member)
//   kQuery   "how did (scope, round) end for you?", after a failed attempt, to every member;
//            lists the attempt keys the asker took part in for that round
//   kAnswer  the reply: done (the result follows as kResult chunks), aborted (no result and no
//            attempt in progress that could finish without the asker), beyond (the answerer
//            is at a later round, given); also newer_view, the reply to a hello of an attempt
//            on an older view than the answerer's attempt of the same round
//   kResult  a chunk of a finished round's result (parameter message): tag = result_tag()
//
// Bytes are little-endian. Decoding checks every length and returns nullopt for anything
// malformed (the message is then dropped). Pure functions.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "foundations/wire/message_types.h"
#include "peers/ring/ring_allreduce.h"

namespace chorus::ring {

inline constexpr std::uint16_t kHello = msg::kCollective.at(0);
inline constexpr std::uint16_t kChunk = msg::kCollective.at(1);
inline constexpr std::uint16_t kAbort = msg::kCollective.at(2);
inline constexpr std::uint16_t kQuery = msg::kCollective.at(3);
inline constexpr std::uint16_t kAnswer = msg::kCollective.at(4);
inline constexpr std::uint16_t kResult = msg::kCollective.at(5);
// at(6) is reserved (it named the start-up greeting; readiness is membership metadata:
// peers/exchange/readiness.h), so that no other message takes its value.

struct Hello {
  std::uint64_t key = 0;
  std::uint64_t scope = 0;
  std::uint64_t round = 0;
  std::uint64_t view = 0;
  std::vector<PeerId> members;  // ring order
  std::uint32_t generation = 0;  // retries of this round on this view before this one
};

struct AbortNotice {
  std::uint64_t key = 0;
  std::uint64_t scope = 0;
  std::uint64_t round = 0;
};

struct Query {
  std::uint64_t scope = 0;
  std::uint64_t round = 0;
  std::vector<std::uint64_t> attempted;  // attempt keys the asker took part in
};

enum class AnswerKind : std::uint8_t { done = 1, aborted = 2, beyond = 3, newer_view = 4 };

struct Answer {
  std::uint64_t scope = 0;
  std::uint64_t round = 0;
  AnswerKind kind = AnswerKind::aborted;
  std::uint64_t answerer_round = 0;  // beyond: where the answerer is
  std::uint64_t view = 0;            // newer_view: the answerer's view number
  std::uint64_t elements = 0;        // done: length of the result that follows
  std::uint32_t contributors = 0;    // done: members the result combines
  std::uint64_t member_set = 0;      // done: member_set_hash of them
};

std::vector<std::byte> encode(const Hello& m);
std::vector<std::byte> encode(const AbortNotice& m);
std::vector<std::byte> encode(const Query& m);
std::vector<std::byte> encode(const Answer& m);
std::optional<Hello> decode_hello(std::span<const std::byte> bytes);
std::optional<AbortNotice> decode_abort(std::span<const std::byte> bytes);
std::optional<Query> decode_query(std::span<const std::byte> bytes);
std::optional<Answer> decode_answer(std::span<const std::byte> bytes);

// The members' ids in ring order.
std::vector<PeerId> member_ids(const RingView& view);
// The key of an attempt: a hash of everything the members must agree on. Never 0. Generation
// 0 is the view's first attempt of the round, and its key also names the round on that view.
std::uint64_t attempt_key(std::uint64_t scope, std::uint64_t round, const RingView& view, std::uint32_t generation = 0);
// The generation-0 key of the view a hello names (its members in ring order).
std::uint64_t view_key(const Hello& h);
// A hash of the members' ids, independent of their order.
std::uint64_t member_set_hash(const RingView& view);
// The tag of a finished round's result chunks.
std::uint64_t result_tag(std::uint64_t scope, std::uint64_t round);

// The weight carried in a chunk's step field.
std::uint64_t weight_bits(double weight);
double weight_from_bits(std::uint64_t bits);

}  // namespace chorus::ring
