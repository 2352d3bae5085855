// The pieces of the ring all-reduce that need no network: how a buffer is cut into segments
// and chunks, which segment each member sends and receives at each step, the reduction
// kernels and the collective's message layouts.
#include <doctest/doctest.h>

#include <limits>
#include <numeric>
#include <optional>
#include <vector>

#include "peers/ring/collective_messages.h"
#include "peers/ring/reduce_kernels.h"
#include "peers/ring/ring_geometry.h"
#include "tests/hex_bytes.h"

using namespace chorus;
using namespace chorus::ring;

namespace {

// Checks that `message` encodes to exactly `bytes` and requires that `decode` reads them back;
// returns what it read.
template <typename Message, typename Decode>
Message encodes_exactly(const Message& message, const std::vector<std::byte>& bytes, Decode decode) {
  CHECK(encode(message) == bytes);
  const std::optional<Message> back = decode(bytes);
  REQUIRE(back);
  return *back;
}

}  // namespace

TEST_CASE("segments cover the buffer in order, sizes differing by at most one") {
  for (std::size_t n = 1; n <= 9; ++n)
    for (std::size_t length : {std::size_t{0}, std::size_t{1}, std::size_t{7}, n - 1, std::size_t{4097}}) {
      CAPTURE(n);
      CAPTURE(length);
      const RingGeometry g(length, n, 3);
      CHECK(g.segment_begin(0) == 0);
      CHECK(g.segment_begin(n) == length);
      std::size_t lo = length, hi = 0, next_index = 0, covered = 0;
      for (std::size_t s = 0; s < n; ++s) {
        lo = std::min(lo, g.segment_size(s));
        hi = std::max(hi, g.segment_size(s));
        std::size_t at = g.segment_begin(s);
        for (std::size_t j = 0; j < g.chunks_in(s); ++j) {
          const ChunkRef c = g.chunk(s, j);
          CHECK(c.begin == at);
          CHECK(c.count >= 1);
          CHECK(c.count <= 3);
          CHECK(c.index == next_index++);
          at += c.count;
          covered += c.count;
        }
        CHECK(at == g.segment_begin(s + 1));
      }
      CHECK(hi - lo <= 1);
      CHECK(covered == length);
      CHECK(g.total_chunks() == next_index);
    }
}

TEST_CASE("each member receives exactly what its left neighbour sends, and every segment meets every member") {
  for (std::size_t n = 2; n <= 9; ++n) {
    CAPTURE(n);
    const RingGeometry g(1000, n, 16);
    for (std::size_t p = 0; p < n; ++p)
      for (Phase phase : {Phase::reduce_scatter, Phase::all_gather})
        for (std::size_t t = 0; t + 1 < n; ++t)
          CHECK(g.received_segment((p + 1) % n, phase, t) == g.sent_segment(p, phase, t));
    // Reduce-scatter: segment s starts at member s and passes every member once, ending at its owner.
    for (std::size_t s = 0; s < n; ++s) {
      std::vector<int> visits(n, 0);
      std::size_t at = s;
      ++visits[at];
      for (std::size_t t = 0; t + 1 < n; ++t) {
        CHECK(g.sent_segment(at, Phase::reduce_scatter, t) == s);
        at = (at + 1) % n;
        ++visits[at];
      }
      CHECK(g.owned_segment(at) == s);
      CHECK(std::all_of(visits.begin(), visits.end(), [](int v) { return v == 1; }));
    }
    // All-gather: a member's own segment reaches every other member.
    for (std::size_t p = 0; p < n; ++p) {
      std::size_t at = p, seg = g.owned_segment(p);
      for (std::size_t t = 0; t + 1 < n; ++t) {
        CHECK(g.sent_segment(at, Phase::all_gather, t) == seg);
        at = (at + 1) % n;
      }
    }
  }
}

TEST_CASE("automatic chunks are half a segment, between 256 KiB and 1 MiB") {
  CHECK(auto_chunk_elements(0) == 65536);
  CHECK(auto_chunk_elements(1 << 18) == (1 << 18) / 2);
  CHECK(auto_chunk_elements(std::size_t{1} << 30) == 262144);
}

TEST_CASE("the reductions are exact on integers and apply weight and scale") {
  std::vector<float> a(1001), b(1001);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>(i) - 500.0f;
    b[i] = static_cast<float>(i * 3 % 17);
  }
  auto c = a;
  combine(c.data(), 1.0f, b.data(), 1.0f, true, c.size());
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == a[i] + b[i]);
  c = a;
  combine(c.data(), 2.0f, b.data(), 0.25f, true, c.size());
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == (2.0f * a[i] + b[i]) * 0.25f);
  c = a;
  combine(c.data(), 1.0f, b.data(), 0.25f, false, c.size());  // not the last step: no scale
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == a[i] + b[i]);
  CHECK(all_finite(a.data(), a.size()));
  a[777] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(all_finite(a.data(), a.size()));
  a[777] = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(all_finite(a.data(), a.size()));
}

TEST_CASE("collective messages have their exact byte layouts") {
  static_assert(kHello == 0x0300 && kChunk == 0x0301 && kAbort == 0x0302 && kQuery == 0x0303 && kAnswer == 0x0304 &&
                kResult == 0x0305);
  using chorus_test::hex_bytes;
  const Hello h{0x0102030405060708ull, 2, 3, 4, {5, 6}, 0x0a0b0c0d};
  const auto hello = hex_bytes(
      "01 0807060504030201 0200000000000000 0300000000000000 0400000000000000"
      "02000000 0500000000000000 0600000000000000 0d0c0b0a");
  const Hello hello_back = encodes_exactly(h, hello, decode_hello);
  CHECK(hello_back.members == h.members);
  CHECK(hello_back.generation == h.generation);
  const auto abort = hex_bytes("01 0100000000000000 0200000000000000 0300000000000000");
  CHECK(encodes_exactly(AbortNotice{1, 2, 3}, abort, decode_abort).round == 3);
  const auto query = hex_bytes("01 0100000000000000 0200000000000000 01000000 0300000000000000");
  CHECK(encodes_exactly(Query{1, 2, {3}}, query, decode_query).attempted == std::vector<std::uint64_t>{3});
  Answer a;
  a.scope = 1;
  a.round = 2;
  a.kind = AnswerKind::beyond;
  a.answerer_round = 4;
  a.view = 5;
  a.elements = 6;
  a.contributors = 7;
  a.member_set = 0x8000000000000008ull;
  const auto answer = hex_bytes(
      "01 0100000000000000 0200000000000000 03 0400000000000000 0500000000000000 0600000000000000"
      "07000000 0800000000000080");
  const Answer answer_back = encodes_exactly(a, answer, decode_answer);
  CHECK(answer_back.member_set == a.member_set);
  CHECK(answer_back.kind == AnswerKind::beyond);
}

TEST_CASE("collective messages round-trip and refuse malformed bytes") {
  Hello h{11, 22, 33, 44, {5, 6, 7}, 2};
  auto bytes = encode(h);
  auto back = decode_hello(bytes);
  REQUIRE(back);
  CHECK(back->key == 11);
  CHECK(back->round == 33);
  CHECK(back->members == std::vector<PeerId>{5, 6, 7});
  CHECK(back->generation == 2);
  bytes.pop_back();
  CHECK_FALSE(decode_hello(bytes));
  Query q{1, 2, {3, 4}};
  auto qb = encode(q);
  REQUIRE(decode_query(qb));
  CHECK(decode_query(qb)->attempted == std::vector<std::uint64_t>{3, 4});
  qb[0] = std::byte{9};  // another layout version
  CHECK_FALSE(decode_query(qb));
  Answer a;
  a.kind = AnswerKind::beyond;
  a.answerer_round = 99;
  auto ab = encode(a);
  REQUIRE(decode_answer(ab));
  CHECK(decode_answer(ab)->answerer_round == 99);
  ab[17] = std::byte{0};  // kind 0 does not exist
  CHECK_FALSE(decode_answer(ab));
  CHECK(weight_from_bits(weight_bits(2.5)) == 2.5);
  RingView v1{1, {{1, "a"}, {2, "b"}}}, v2{2, {{1, "a"}, {2, "b"}}};
  CHECK(attempt_key(1, 1, v1) != attempt_key(1, 1, v2));
  CHECK(attempt_key(1, 1, v1) != attempt_key(1, 2, v1));
  CHECK(attempt_key(1, 1, v1) == attempt_key(1, 1, v1));
  // Generation 0 is the view's own key; each retry has another.
  CHECK(attempt_key(1, 1, v1, 0) == attempt_key(1, 1, v1));
  CHECK(attempt_key(1, 1, v1, 1) != attempt_key(1, 1, v1));
  CHECK(attempt_key(1, 1, v1, 1) != attempt_key(1, 1, v1, 2));
  Hello named{attempt_key(1, 1, v1, 3), 1, 1, v1.number, {}, 3};
  for (const auto& m : v1.members) named.members.push_back(m.id);
  CHECK(view_key(named) == attempt_key(1, 1, v1));
}
