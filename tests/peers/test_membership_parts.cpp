// The parts of membership, one at a time: the message codec (round trips and hostile
// input), the member table's ordering of facts and its view number, Lifeguard's suspicion
// timeout, the broadcast queue's retransmit limit, the probe order, and the presets.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "foundations/base/error.h"
#include "peers/membership/broadcast_queue.h"
#include "peers/membership/codec.h"
#include "peers/membership/member_table.h"
#include "peers/membership/membership.h"
#include "peers/membership/probe_order.h"
#include "peers/membership/suspicion.h"
#include "peers/membership/timings.h"
#include "tests/hex_bytes.h"

using namespace chorus;
using namespace chorus::membership;
using std::chrono::milliseconds;

namespace {

MemberRecord record(PeerId id, std::uint64_t inc, MemberState state, std::uint64_t version, PeerId accuser = 0) {
  MemberRecord r;
  r.member.id = id;
  r.member.address = "inproc://m-" + std::to_string(id);
  r.member.group = id % 2 ? "odd" : "";
  r.member.meta = id % 3 ? "strategy=kavg" : "";
  r.member.incarnation = inc;
  r.state = state;
  r.version = version;
  r.accuser = state == MemberState::suspect ? (accuser ? accuser : 99) : 0;
  return r;
}

Message sample(std::uint16_t type) {
  Message m;
  m.type = type;
  m.sender.incarnation = 1700000000000000ull;
  m.sender.version = 7;
  m.sender.group = "gpu-a";
  m.sender.meta = "strategy=lsgd";
  if (type == kPing || type == kAck || type == kPingReq) {
    m.sequence = 42;
    m.target = 0x1234567890abcdefull;
  }
  if (type == kPingReq) m.target_address = "tcp://127.0.0.1:7001";
  if (type == kSync) m.sync_flags = kSyncReplyWanted | kSyncAnswersJoin;
  m.records.push_back(record(5, 10, MemberState::alive, 3));
  m.records.push_back(record(6, 11, MemberState::suspect, 4, 5));
  m.records.push_back(record(7, 12, MemberState::left, 9));
  return m;
}

bool same(const MemberRecord& a, const MemberRecord& b) {
  return a.member.id == b.member.id && a.member.address == b.member.address && a.member.group == b.member.group &&
         a.member.meta == b.member.meta && a.member.incarnation == b.member.incarnation && a.state == b.state && a.version == b.version &&
         a.accuser == b.accuser;
}

std::span<const std::byte> span_of(const std::vector<std::byte>& v) { return {v.data(), v.size()}; }

const std::uint16_t kTypes[] = {kPing, kAck, kPingReq, kJoin, kSync, kGossip};

}  // namespace

TEST_CASE("membership codec: every message type round-trips") {
  for (std::uint16_t type : kTypes) {
    const Message m = sample(type);
    const auto bytes = encode(m);
    const Decoded d = decode(type, span_of(bytes));
    REQUIRE_MESSAGE(d.message.has_value(), d.error);
    CHECK(d.message->type == type);
    CHECK(d.message->sender.incarnation == m.sender.incarnation);
    CHECK(d.message->sender.version == m.sender.version);
    CHECK(d.message->sender.group == m.sender.group);
    CHECK(d.message->sender.meta == m.sender.meta);
    CHECK(d.message->sequence == m.sequence);
    CHECK(d.message->target == m.target);
    CHECK(d.message->target_address == m.target_address);
    CHECK(d.message->sync_flags == m.sync_flags);
    REQUIRE(d.message->records.size() == m.records.size());
    for (std::size_t i = 0; i < m.records.size(); ++i) CHECK(same(d.message->records[i], m.records[i]));
  }
}

TEST_CASE("membership codec: the exact bytes of a ping with one record") {
  static_assert(kPing == 0x0101 && kAck == 0x0102 && kPingReq == 0x0103 && kJoin == 0x0104 && kSync == 0x0105 &&
                kGossip == 0x0106);
  Message m;
  m.type = kPing;
  m.sender.incarnation = 0x0102030405060708ull;
  m.sender.version = 9;
  m.sender.group = "g";
  m.sender.meta = "m1";
  m.sequence = 0x11;
  m.target = 0x2233;
  MemberRecord r;
  r.member.id = 0x44;
  r.member.incarnation = 4;
  r.version = 5;
  r.state = MemberState::suspect;
  r.accuser = 6;
  r.member.address = "a";
  m.records.push_back(r);
  const auto expected = chorus_test::hex_bytes(
      "02"                                           // format
      "0807060504030201 0900000000000000 00 0167 026d31"  // sender: incarnation, version, alive, "g", "m1"
      "1100000000000000 3322000000000000"             // sequence, target
      "0100"                                         // one record:
      "4400000000000000 0400000000000000 0500000000000000 01 0600000000000000 0161 00 00");
  CHECK(encode(m) == expected);
  const Decoded d = decode(kPing, span_of(expected));
  REQUIRE_MESSAGE(d.message.has_value(), d.error);
  CHECK(d.message->sender.incarnation == m.sender.incarnation);
  REQUIRE(d.message->records.size() == 1);
  CHECK(same(d.message->records[0], r));
}

TEST_CASE("membership codec: every truncation and every trailing byte is refused") {
  for (std::uint16_t type : kTypes) {
    const auto bytes = encode(sample(type));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const Decoded d = decode(type, {bytes.data(), n});
      CHECK_FALSE(d.message.has_value());
      CHECK_FALSE(d.error.empty());
    }
    auto longer = bytes;
    longer.push_back(std::byte{0});
    CHECK_FALSE(decode(type, span_of(longer)).message.has_value());
  }
}

TEST_CASE("membership codec: illegal field values are refused with a reason") {
  const auto base = encode(sample(kPingReq));
  const auto refused = [&](std::size_t offset, std::uint8_t value) {
    auto b = base;
    b[offset] = static_cast<std::byte>(value);
    const Decoded d = decode(kPingReq, span_of(b));
    return !d.message.has_value() && !d.error.empty();
  };
  // Layout: format(1) | inc(8) ver(8) state(1) group(1+5) meta(1+13) | seq(8) target(8) addr(1+20) |
  // count(2) | ...
  CHECK(refused(0, 1));                // another format (1: before the metadata)
  CHECK(refused(0, 3));
  CHECK(refused(8, 0x40));             // sender incarnation >= 2^62
  CHECK(refused(17, 1));               // a sender cannot be suspect
  CHECK(refused(17, 2));               // nor dead
  CHECK(refused(17, 9));               // unknown state
  CHECK(refused(19, 0x01));            // non-printable group byte
  CHECK(refused(19, ' '));             // a space in the group
  CHECK(refused(18, 200));             // group longer than the message
  CHECK(refused(25, 0x07));            // non-printable metadata byte
  CHECK(refused(25, ' '));             // a space in the metadata
  const std::size_t target = 1 + 8 + 8 + 1 + 6 + 14 + 8;
  {
    auto b = base;
    for (std::size_t j = 0; j < 8; ++j) b[target + j] = std::byte{0};
    CHECK_FALSE(decode(kPingReq, span_of(b)).message.has_value());  // target id 0
  }
  CHECK(refused(target + 8, 0));       // empty target address
  const std::size_t count = target + 8 + 21;
  CHECK(refused(count, 0xff));         // 255 + records claimed: cannot fit
  CHECK(refused(count + 1, 0xff));     // 65k records claimed: over the limit
  const std::size_t first = count + 2;
  {
    auto b = base;  // first record's id 0
    for (std::size_t j = 0; j < 8; ++j) b[first + j] = std::byte{0};
    CHECK_FALSE(decode(kPingReq, span_of(b)).message.has_value());
  }
  CHECK(refused(first + 24, 7));       // record state unknown
  CHECK(refused(first + 24, 1));       // alive record made suspect: no accuser
  CHECK(refused(first + 25, 1));       // alive record with an accuser
  CHECK(refused(first + 33, 0));       // empty address
  // Unknown types, and sync flags beyond the two defined.
  CHECK_FALSE(decode(0x0107, span_of(base)).message.has_value());
  CHECK_FALSE(decode(0x0100, span_of(base)).message.has_value());
  auto sync = encode(sample(kSync));
  sync[1 + 8 + 8 + 1 + 6 + 14] = std::byte{4};
  CHECK_FALSE(decode(kSync, span_of(sync)).message.has_value());
}

TEST_CASE("membership codec: random and mutated bytes never crash and rarely decode") {
  std::mt19937_64 rng(1234);
  std::size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::uint16_t type = kTypes[rng() % 6];
    std::vector<std::byte> b;
    if (i % 2) {
      b.resize(rng() % 300);
      for (auto& x : b) x = static_cast<std::byte>(rng());
    } else {
      b = encode(sample(type));
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::byte>(rng());
    }
    const Decoded d = decode(type, span_of(b));
    if (d.message) {
      ++decoded;
      CHECK(d.message->records.size() <= kMaxRecords);
      for (const auto& r : d.message->records) {
        CHECK(r.member.id != 0);
        CHECK(is_wire_string(r.member.address));
        CHECK(r.member.incarnation < kMaxCounter);
      }
    } else {
      CHECK_FALSE(d.error.empty());
    }
  }
  CHECK(decoded < 20000);
}

TEST_CASE("member table: facts are ordered by incarnation, then state, then version") {
  MemberTable t(16);
  REQUIRE(t.apply(record(1, 10, MemberState::alive, 1)));
  CHECK(t.view().size() == 1);
  CHECK_FALSE(t.apply(record(1, 9, MemberState::dead, 50)));     // older incarnation: ignored
  CHECK_FALSE(t.apply(record(1, 10, MemberState::alive, 1)));    // nothing new
  auto s = t.apply(record(1, 10, MemberState::suspect, 2));
  REQUIRE(s);
  CHECK(s->before->state == MemberState::alive);
  CHECK(t.view().size() == 1);                                    // suspects stay in the view
  CHECK_FALSE(t.apply(record(1, 10, MemberState::alive, 9)));    // alive cannot undo a suspicion
  REQUIRE(t.apply(record(1, 11, MemberState::alive, 3)));        // a refutation can
  CHECK(t.find(1)->state == MemberState::alive);
  REQUIRE(t.apply(record(1, 11, MemberState::dead, 4)));
  CHECK(t.view().size() == 0);
  CHECK_FALSE(t.apply(record(1, 11, MemberState::alive, 40)));   // a dead incarnation stays dead
  REQUIRE(t.apply(record(1, 11, MemberState::left, 5)));         // left outranks dead
  CHECK_FALSE(t.apply(record(1, 11, MemberState::dead, 6)));
  REQUIRE(t.apply(record(1, 2000, MemberState::alive, 1)));      // a restarted process rejoins
  CHECK(t.find(1)->version == 6);                                 // its version still grows
  CHECK(t.view().size() == 1);
  CHECK(t.view().members[0].incarnation == 2000);
}

TEST_CASE("member table: the view number grows with every change and is the sum of versions") {
  MemberTable t(64);
  std::mt19937_64 rng(7);
  std::uint64_t last = t.view_number();
  for (int i = 0; i < 5000; ++i) {
    const PeerId id = 1 + rng() % 20;
    const auto state = static_cast<MemberState>(rng() % 4);
    const auto change = t.apply(record(id, 1 + rng() % 5, state, rng() % 12));
    if (change) {
      CHECK(t.view_number() > last);
    } else {
      CHECK(t.view_number() == last);
    }
    last = t.view_number();
  }
  std::uint64_t sum = 0;
  std::size_t live = 0;
  for (const auto& r : t.records()) {
    sum += r.version;
    live += is_live(r.state) ? 1 : 0;
  }
  CHECK(sum == t.view_number());
  CHECK(live == t.view().size());
  CHECK(live == t.live_count());
}

TEST_CASE("member table: two members that exchange their tables hold the same numbered view") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    MemberTable a(64), b(64);
    std::vector<MemberRecord> facts;
    for (int i = 0; i < 40; ++i)
      facts.push_back(record(1 + rng() % 8, 1 + rng() % 3, static_cast<MemberState>(rng() % 4), 1 + rng() % 6));
    // Each hears a different subset, in a different order.
    for (const auto& f : facts)
      if (rng() % 3) a.apply(f);
    std::shuffle(facts.begin(), facts.end(), rng);
    for (const auto& f : facts)
      if (rng() % 3) b.apply(f);
    // a hears b's table, b hears a's merged one, and a hears what b's merge changed (a
    // member passes on every change it makes).
    for (const auto& r : b.records()) a.apply(r);
    for (const auto& r : a.records()) b.apply(r);
    for (const auto& r : b.records()) a.apply(r);
    CHECK(a.view_number() == b.view_number());
    const View va = a.view(), vb = b.view();
    REQUIRE(va.size() == vb.size());
    for (std::size_t i = 0; i < va.size(); ++i) {
      CHECK(va.members[i].id == vb.members[i].id);
      CHECK(va.members[i].incarnation == vb.members[i].incarnation);
    }
  }
}

TEST_CASE("member table: a full table refuses unknown members and counts them") {
  MemberTable t(3);
  for (PeerId id = 1; id <= 3; ++id) REQUIRE(t.apply(record(id, 1, MemberState::alive, 1)));
  CHECK_FALSE(t.apply(record(4, 1, MemberState::alive, 1)));
  CHECK(t.refused() == 1);
  CHECK(t.apply(record(2, 1, MemberState::dead, 2)));  // known members still change
  CHECK(t.size() == 3);
}

TEST_CASE("suspicion: the timeout shrinks from max to min with independent confirmations") {
  using S = Suspicion;
  const milliseconds min(1000), max(3000);
  CHECK(S::timeout(0, 2, min, max) == max);
  CHECK(S::timeout(1, 2, min, max) > min);
  CHECK(S::timeout(1, 2, min, max) < max);
  CHECK(S::timeout(2, 2, min, max) == min);
  CHECK(S::timeout(0, 0, min, max) == min);  // none expected: min at once

  const auto t0 = S::Clock::now();
  S s(5, /*accuser=*/10, 2, min, max, t0);
  CHECK(s.deadline() == t0 + max);
  CHECK_FALSE(s.confirm(10));  // the accuser is not its own confirmation
  CHECK(s.confirm(11));
  CHECK_FALSE(s.confirm(11));  // nor anyone twice
  const auto after_one = s.deadline();
  CHECK(after_one < t0 + max);
  CHECK(s.confirm(12));
  CHECK(s.deadline() == t0 + min);
  CHECK_FALSE(s.confirm(13));  // beyond k nothing changes
  CHECK(s.confirmations() == 2);
}

TEST_CASE("broadcast queue: least-sent first, one update per member, dropped after the limit") {
  BroadcastQueue q;
  q.push(record(1, 1, MemberState::alive, 1));
  q.push(record(2, 1, MemberState::alive, 1));
  q.push(record(1, 1, MemberState::suspect, 2));  // replaces member 1's update
  CHECK(q.size() == 2);
  auto first = q.take(1, 1 << 20, 3);
  REQUIRE(first.size() == 1);
  CHECK(first[0].member.id == 1);  // newest first among the unsent
  CHECK(first[0].state == MemberState::suspect);
  auto second = q.take(1, 1 << 20, 3);
  REQUIRE(second.size() == 1);
  CHECK(second[0].member.id == 2);  // the least sent
  std::map<PeerId, int> sent{{1, 1}, {2, 1}};
  for (int i = 0; i < 10; ++i)
    for (const auto& r : q.take(8, 1 << 20, 3)) ++sent[r.member.id];
  CHECK(sent[1] == 3);
  CHECK(sent[2] == 3);
  CHECK(q.empty());
  // The byte budget bounds a message, but one update always goes.
  for (PeerId id = 1; id <= 10; ++id) q.push(record(id, 1, MemberState::alive, 1));
  CHECK(q.take(100, 1, 3).size() == 1);
  CHECK(q.take(100, 2 * encoded_size(record(1, 1, MemberState::alive, 1)), 3).size() == 2);
}

TEST_CASE("probe order: every live member once per pass, self and the dead skipped") {
  MemberTable t(64);
  for (PeerId id = 1; id <= 9; ++id) t.apply(record(id, 1, MemberState::alive, 1));
  t.apply(record(4, 1, MemberState::dead, 2));
  ProbeOrder order;
  std::mt19937_64 rng(3);
  std::vector<PeerId> first_pass, second_pass;
  for (int i = 0; i < 7; ++i) first_pass.push_back(*order.next(t, 1, rng));
  for (int i = 0; i < 7; ++i) second_pass.push_back(*order.next(t, 1, rng));
  const std::set<PeerId> expect{2, 3, 5, 6, 7, 8, 9};
  CHECK(std::set<PeerId>(first_pass.begin(), first_pass.end()) == expect);
  CHECK(std::set<PeerId>(second_pass.begin(), second_pass.end()) == expect);
  CHECK(first_pass != second_pass);  // reshuffled (7! orders; equal by chance ~1/5040)
  MemberTable alone(4);
  alone.apply(record(1, 1, MemberState::alive, 1));
  CHECK_FALSE(order.next(alone, 1, rng).has_value());
}

TEST_CASE("membership presets: loopback, lan, wan; bad names and values are user errors") {
  const auto lo = MembershipTimings::preset("loopback");
  CHECK(lo.probe_interval == milliseconds(200));
  CHECK(lo.probe_timeout == milliseconds(100));
  const auto lan = MembershipTimings::preset("lan");
  CHECK(lan.probe_interval == milliseconds(1000));
  CHECK(lan.probe_timeout == milliseconds(500));
  CHECK(lan.suspicion_min == milliseconds(4000));  // SuspicionMult 4 x 1 s
  const auto wan = MembershipTimings::preset("wan");
  CHECK(wan.probe_interval == milliseconds(5000));
  CHECK(wan.probe_timeout == milliseconds(3000));
  CHECK(wan.suspicion_min == milliseconds(30000));  // SuspicionMult 6 x 5 s
  for (const auto& t : {lo, lan, wan}) CHECK_NOTHROW(validate(t));
  CHECK_THROWS_AS(MembershipTimings::preset("lann"), UserError);

  // memberlist's scaling: 4 * log10(n) s for lan beyond 10 members.
  CHECK(suspicion_bounds(lan, 8).min == milliseconds(4000));
  CHECK(suspicion_bounds(lan, 100).min == milliseconds(8000));
  CHECK(suspicion_bounds(lo, 100).min == milliseconds(1000));
  CHECK(suspicion_bounds(lo, 4).expected_confirmations == 2);
  CHECK(suspicion_bounds(lo, 3).expected_confirmations == 0);  // too few to confirm
  CHECK(retransmit_limit(lo, 9) == 4);
  CHECK(retransmit_limit(lo, 10) == 8);

  auto bad = lo;
  bad.probe_timeout = bad.probe_interval;
  CHECK_THROWS_AS(validate(bad), UserError);
  bad = lo;
  bad.suspicion_max = milliseconds(10);
  CHECK_THROWS_AS(validate(bad), UserError);
  bad = lo;
  bad.retransmit_mult = 0;
  CHECK_THROWS_AS(validate(bad), UserError);
  CHECK(std::string(member_state_name(MemberState::left)) == "left");
  CHECK(std::string(membership_event_name(MembershipEvent::Kind::dead)) == "dead");
}
