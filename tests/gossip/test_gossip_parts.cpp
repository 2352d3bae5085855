// The parts of the gossip-family strategies, without a swarm: the letter codec, dynamic
// weights, the overlapped merge, round numbering, the leader board and shard placement.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "foundations/transport/inproc_transport.h"
#include "peers/exchange/dynamic_weights.h"
#include "peers/exchange/overlapped_merge.h"
#include "peers/gossip/gossip_channel.h"
#include "peers/gossip/leader_board.h"
#include "peers/gossip/letter.h"
#include "peers/gossip/peer_exchange.h"
#include "peers/gossip/sharded_store.h"
#include "tests/hex_bytes.h"
#include "topology/topology_metrics.h"

using namespace chorus;
using namespace chorus::gossip;
using namespace std::chrono_literals;

TEST_CASE("a letter head survives encoding, and bad bytes are refused") {
  LetterHead h;
  h.kind = kLeaderFetch;
  h.id = 0x1122334455667788ull;
  h.ref = 9;
  h.round = 123456789;
  h.step = -5;
  h.since_start = 77;
  h.view = 42;
  h.value = -0.125;
  h.fetch.pulled = true;
  h.fetch.incarnation = ~0ull;
  h.count = 1000;
  const auto bytes = encode(h);
  CHECK(bytes.size() == kLetterHeadBytes);
  const auto back = decode(bytes);
  REQUIRE(back);
  CHECK(back->kind == h.kind);
  CHECK(back->id == h.id);
  CHECK(back->ref == h.ref);
  CHECK(back->round == h.round);
  CHECK(back->step == h.step);
  CHECK(back->since_start == h.since_start);
  CHECK(back->view == h.view);
  CHECK(back->value == h.value);
  CHECK(back->fetch.pulled);
  CHECK(back->fetch.incarnation == h.fetch.incarnation);
  CHECK(back->count == h.count);

  CHECK_FALSE(decode(std::span(bytes).first(bytes.size() - 1)));
  auto wrong_version = bytes;
  wrong_version[0] = std::byte{9};
  CHECK_FALSE(decode(wrong_version));
  auto huge = h;
  huge.count = ~0ull;
  CHECK_FALSE(decode(encode(huge)));
}

TEST_CASE("a letter head has its exact byte layout") {
  static_assert(kLetterHead == 0x0400 && kLetterValues == 0x0401);
  LetterHead h;
  h.kind = kStoreRequest;
  h.id = 0x0102030405060708ull;
  h.ref = 9;
  h.round = 10;
  h.step = -2;
  h.since_start = 11;
  h.view = 12;
  h.value = 1.5;
  h.store.shard = 2;
  h.store.op = StoreOp::init;
  h.count = 13;
  const auto expected = chorus_test::hex_bytes(
      "01 1400"                                                        // version, kind
      "0807060504030201 0900000000000000 0a00000000000000"             // id, ref, round
      "feffffffffffffff 0b00000000000000 0c00000000000000"             // step, since start, view
      "000000000000f83f"                                               // value
      "0200000000000000 0300000000000000"                              // shard, op
      "0d00000000000000");                                             // count
  CHECK(encode(h) == expected);
  const auto back = decode(expected);
  REQUIRE(back);
  CHECK(back->step == -2);
  CHECK(back->value == 1.5);
  CHECK(back->store.shard == 2);
  CHECK(back->store.op == StoreOp::init);
}

TEST_CASE("each kind's own head fields go in the two kind-specific words, and only its own") {
  constexpr std::size_t kWordsAt = 1 + 2 + 7 * 8;  // version, kind, then id to value
  const auto words = [](const LetterHead& h) {
    const auto bytes = encode(h);
    return std::vector<std::byte>(bytes.begin() + kWordsAt, bytes.begin() + kWordsAt + 16);
  };
  const auto sent = [](std::uint16_t kind, auto set) {
    LetterHead h;
    h.kind = kind;
    set(h);
    return h;
  };
  using chorus_test::hex_bytes;
  const LetterHead nack = sent(kElasticNack, [](LetterHead& h) { h.nack.clock = 0x0102; });
  CHECK(words(nack) == hex_bytes("0201000000000000 0000000000000000"));
  CHECK(decode(encode(nack))->nack.clock == 0x0102);
  const LetterHead reply = sent(kStoreReply, [](LetterHead& h) {
    h.store.shard = 7;
    h.store.status = StoreStatus::not_owner;
  });
  CHECK(words(reply) == hex_bytes("0700000000000000 0200000000000000"));
  CHECK(decode(encode(reply))->store.status == StoreStatus::not_owner);
  const LetterHead copy = sent(kStoreCopy, [](LetterHead& h) {
    h.store.shard = 1;
    h.store.version = 0x0a0b;
  });
  CHECK(words(copy) == hex_bytes("0100000000000000 0b0a000000000000"));
  CHECK(decode(encode(copy))->store.version == 0x0a0b);
  const LetterHead fetch = sent(kLeaderFetch, [](LetterHead& h) {
    h.fetch.pulled = true;
    h.fetch.incarnation = 5;
  });
  CHECK(words(fetch) == hex_bytes("0100000000000000 0500000000000000"));

  // Another kind's fields are not sent, and not read into a letter of another kind.
  const LetterHead pull = sent(kPullValue, [](LetterHead& h) {
    h.store.shard = 3;
    h.nack.clock = 9;
  });
  CHECK(words(pull) == hex_bytes("0000000000000000 0000000000000000"));
  auto bytes = encode(copy);
  bytes[1] = static_cast<std::byte>(kStoreRequest);
  const auto request = decode(bytes);
  REQUIRE(request);
  CHECK(request->store.shard == 1);
  CHECK(request->store.version == 0);
  CHECK(static_cast<std::uint64_t>(request->store.op) == 0x0a0b);  // refused by the store, not the codec
}

TEST_CASE("dynamic weights fall with steps behind, silence and a recent restart, and renormalize") {
  DynamicWeightConfig c;
  CHECK(currency({100, 1000, 0}, 100, c) == doctest::Approx(1.0));
  CHECK(currency({50, 1000, 0}, 100, c) == doctest::Approx(0.5));  // one half-life behind
  CHECK(currency({0, 1000, 0}, 100, c) == doctest::Approx(0.25));
  CHECK(currency({100, 1000, 7.0}, 100, c) == doctest::Approx(0.5));  // 2 s grace + one 5 s half-life
  CHECK(currency({100, 25, 0}, 100, c) == doctest::Approx(c.floor + (1 - c.floor) * 0.5));
  CHECK(currency({-100000, 0, 1e6}, 100, c) == doctest::Approx(c.floor * c.floor));

  // Four equal peers: equal weights. One restarted from an old checkpoint, 500 steps behind:
  // its weight is tiny and the others share the rest.
  const std::vector<double> base{0.25, 0.25, 0.25, 0.25};
  const std::vector<Contribution> fresh{{800, 800, 0}, {801, 801, 0}, {799, 799, 0}, {800, 800, 0}};
  for (double w : dynamic_weights(base, fresh)) CHECK(w == doctest::Approx(0.25).epsilon(0.03));
  const std::vector<Contribution> one_stale{{800, 800, 0}, {801, 801, 0}, {300, 3, 0}, {800, 800, 0}};
  const auto w = dynamic_weights(base, one_stale);
  double sum = 0;
  for (double x : w) sum += x;
  CHECK(sum == doctest::Approx(1.0));
  CHECK(w[2] < 0.01);
  CHECK(w[0] > 0.33);

  // Pairwise rates: equal currencies keep alpha; a stale side is pulled harder and pulls less.
  const PairRates same = pair_rates(0.3, 0.8, 0.8);
  CHECK(same.a == doctest::Approx(0.3));
  CHECK(same.b == doctest::Approx(0.3));
  const PairRates stale_a = pair_rates(0.4, 0.02, 1.0);
  CHECK(stale_a.a > 0.75);
  CHECK(stale_a.b < 0.02);
}

namespace {

// A deterministic "merge": the average with a fixed other vector.
OverlappedMerge::MergeFn average_with(std::vector<float> other, std::chrono::milliseconds delay = 0ms) {
  return [other = std::move(other), delay](std::vector<float>& v) {
    if (delay.count()) std::this_thread::sleep_for(delay);
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = 0.5f * (v[k] + other[k]);
    return true;
  };
}

// Runs `steps` local SGD-like steps on x with a merge every `every` steps; returns x.
std::vector<float> train_with_merges(int staleness, int steps, int every, CommStats& stats,
                                     std::chrono::milliseconds delay = 0ms) {
  OverlappedMerge m(staleness, stats);
  std::vector<float> x(257);
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::sin(0.37f * static_cast<float>(k));
  for (int s = 1; s <= steps; ++s) {
    for (std::size_t k = 0; k < x.size(); ++k) x[k] -= 0.01f * (x[k] - 0.001f * static_cast<float>(s + k));
    m.poll(x, s);
    if (s % every == 0) {
      std::vector<float> other(x.size());
      for (std::size_t k = 0; k < x.size(); ++k) other[k] = std::cos(0.1f * static_cast<float>(k + s));
      m.begin(x, s, average_with(other, delay));
    }
  }
  m.finish(x);
  return x;
}

}  // namespace

TEST_CASE("an overlapped merge with S = 0 equals the synchronous merge bit for bit") {
  CommStats a, b;
  const auto sync = train_with_merges(-1, 60, 3, a);
  const auto s0 = train_with_merges(0, 60, 3, b);
  REQUIRE(sync.size() == s0.size());
  CHECK(std::memcmp(sync.data(), s0.data(), sync.size() * sizeof(float)) == 0);
  CommStats c;
  const auto s2 = train_with_merges(2, 60, 3, c);
  CHECK(std::memcmp(sync.data(), s2.data(), sync.size() * sizeof(float)) != 0);  // S matters
}

TEST_CASE("an overlapped merge keeps the local steps taken meanwhile: x <- x̄ + (x - s)") {
  CommStats stats;
  OverlappedMerge m(3, stats);
  std::vector<float> x{1.0f, 2.0f, 3.0f};
  std::atomic<bool> release{false};
  m.begin(x, 10, [&](std::vector<float>& v) {
    while (!release) std::this_thread::sleep_for(1ms);
    for (auto& e : v) e = 10.0f * e;  // x̄ = 10 s
    return true;
  });
  CHECK(m.in_flight());
  x = {1.5f, 2.0f, 2.0f};  // one local step
  CHECK_FALSE(m.poll(x, 11));
  CHECK_FALSE(m.poll(x, 12));
  release = true;
  CHECK(m.poll(x, 13));  // S = 3 steps: waits, then applies
  CHECK(x[0] == 10.5f);  // 10 + (1.5 - 1)
  CHECK(x[1] == 20.0f);  // untouched element: exactly x̄
  CHECK(x[2] == 29.0f);  // 30 + (2 - 3)
  CHECK_FALSE(m.in_flight());
}

TEST_CASE("the trainer waits only when a merge is S steps old, and the wait is counted as idle") {
  CommStats sync_stats, overlap_stats;
  // A merge takes ~20 ms; steps are instantaneous, so the synchronous trainer waits for every
  // merge, and so does S = 2 (it reaches the bound at once) — but S = 2 with slow steps doesn't.
  train_with_merges(-1, 30, 3, sync_stats, 20ms);
  CHECK(sync_stats.idle_s.load() > 0.15);
  CHECK(sync_stats.comm_s.load() > 0.15);

  OverlappedMerge m(2, overlap_stats);
  std::vector<float> x(16, 1.0f);
  for (int s = 1; s <= 30; ++s) {
    std::this_thread::sleep_for(15ms);  // a training step longer than half a merge
    m.poll(x, s);
    if (s % 3 == 0) m.begin(x, s, average_with(std::vector<float>(16, 0.0f), 20ms));
  }
  m.finish(x);
  CHECK(overlap_stats.comm_s.load() > 0.15);
  CHECK(overlap_stats.idle_s.load() < 0.05);
}

TEST_CASE("an exception in a merge reaches the training thread") {
  CommStats stats;
  OverlappedMerge m(1, stats);
  std::vector<float> x(4, 1.0f);
  m.begin(x, 1, [](std::vector<float>&) -> bool { throw std::runtime_error("partner sent garbage"); });
  CHECK_THROWS_WITH(m.finish(x), "partner sent garbage");
  CHECK_FALSE(m.in_flight());
}

TEST_CASE("round clocks advance together and a peer far behind catches up") {
  RoundClock a;
  CHECK(a.next() == 1);
  CHECK(a.next() == 2);
  a.saw(3);  // a partner one round ahead: no jump
  CHECK(a.next() == 3);
  a.saw(4);
  CHECK(a.next() == 4);
  RoundClock restarted;
  restarted.saw(500);
  CHECK(restarted.next() == 500);
  CHECK(restarted.next() == 501);
}

TEST_CASE("the leader board ranks a round by loss then id, and the next-lowest takes over") {
  View view;
  for (PeerId id : {5, 9, 2, 7}) view.members.push_back({id, "inproc://" + std::to_string(id), "", 1});
  std::sort(view.members.begin(), view.members.end(), [](auto& a, auto& b) { return a.id < b.id; });
  LeaderBoard a, b;
  // Two boards receive the same reports in different orders.
  const std::vector<LossReport> reports{{5, 3, 0.40, 30, 1}, {9, 3, 0.20, 31, 1}, {2, 3, 0.20, 29, 1},
                                        {7, 3, 0.90, 30, 1}, {9, 4, 0.01, 40, 1}};
  for (const auto& r : reports) a.record(r);
  for (auto it = reports.rbegin(); it != reports.rend(); ++it) b.record(*it);
  CHECK(a.ranking(3) == std::vector<PeerId>{2, 9, 5, 7});  // tie on 0.20: lower id first
  CHECK(a.ranking(3) == b.ranking(3));
  CHECK(a.missing(4, view) == std::vector<PeerId>{2, 5, 7});
  REQUIRE(a.adopt(3));
  REQUIRE(b.adopt(3));
  CHECK(a.leader(view) == PeerId{2});
  CHECK(b.leader(view) == PeerId{2});
  View without = view;
  std::erase_if(without.members, [](const Member& m) { return m.id == 2; });
  CHECK(a.leader(without) == PeerId{9});
  const std::set<PeerId> group{5, 7};
  CHECK(a.leader(view, &group) == PeerId{5});
  CHECK_FALSE(a.adopt(99));
  CHECK(a.adopted_round() == 3u);
  // A newer incarnation's report replaces the older one's.
  a.record({5, 3, 0.05, 30, 2});
  CHECK(a.ranking(3).front() == 5);
  a.record({5, 3, 0.99, 30, 1});
  CHECK(a.ranking(3).front() == 5);
}

TEST_CASE("shard placement: the replica holder becomes the owner when the owner goes") {
  const View v = synthetic_view(7);
  for (std::size_t k = 0; k < 16; ++k) {
    const auto o = ShardedStore::owner(v, k);
    const auto r = ShardedStore::replica(v, k);
    REQUIRE(o);
    REQUIRE(r);
    CHECK(*o != *r);
    View without = v;
    std::erase_if(without.members, [&](const Member& m) { return m.id == *o; });
    CHECK(ShardedStore::owner(without, k) == r);
    // Removing anyone else never moves the shard.
    for (const auto& m : v.members) {
      if (m.id == *o) continue;
      View w = v;
      std::erase_if(w.members, [&](const Member& x) { return x.id == m.id; });
      CHECK(ShardedStore::owner(w, k) == o);
    }
  }
  // Shards spread over several owners.
  std::set<PeerId> owners;
  for (std::size_t k = 0; k < 16; ++k) owners.insert(*ShardedStore::owner(v, k));
  CHECK(owners.size() >= 4);
  CHECK(ShardedStore::shard_count_for(3) == 3);
  CHECK(ShardedStore::shard_count_for(1000000) == 16);
  View one = synthetic_view(1);
  CHECK(ShardedStore::owner(one, 0) == one.members[0].id);
  CHECK_FALSE(ShardedStore::replica(one, 0));
}

TEST_CASE("the gossip channel reassembles letters and drops malformed ones without crashing") {
  auto hub = std::make_shared<InprocHub>();
  TransportConfig ca, cb;
  ca.address = "inproc://channel-a";
  cb.address = "inproc://channel-b";
  ca.swarm_id = cb.swarm_id = 5;
  ca.chunk_bytes = cb.chunk_bytes = 64;  // 16 floats per chunk: letters span several chunks
  auto a = make_inproc_transport(hub, ca);
  auto b = make_inproc_transport(hub, cb);
  CommStats sa, sb;
  GossipChannel sender(*a, sa);
  GossipChannel receiver(*b, sb, ExchangeTimings{}, /*max_values=*/100);
  std::mutex mu;
  std::vector<Letter> got;
  receiver.on(kPullValue, [&](Letter&& l) {
    std::lock_guard lock(mu);
    got.push_back(std::move(l));
  });
  receiver.start();

  std::vector<float> values(50);
  for (std::size_t k = 0; k < values.size(); ++k) values[k] = static_cast<float>(k) * 0.5f;
  LetterHead h;
  h.kind = kPullValue;
  h.round = 7;
  h.value = 1.5;
  REQUIRE(sender.send(b->address(), h, values));
  // Garbage head; a head announcing more values than allowed; an unknown kind; a head whose
  // chunks claim another total; and a letter too big for the receiver.
  const std::vector<std::byte> junk(13, std::byte{0x42});
  a->send(b->address(), kLetterHead, junk, 1000ms);
  LetterHead big = h;
  big.id = 999;
  big.count = 1000;
  a->send(b->address(), kLetterHead, encode(big), 1000ms);
  LetterHead unknown = h;
  unknown.kind = 777;
  REQUIRE(sender.send(b->address(), unknown, {}));
  LetterHead liar = h;
  liar.id = 4242;
  liar.count = 20;
  a->send(b->address(), kLetterHead, encode(liar), 1000ms);
  ParamSend ps;
  ps.type = kLetterValues;
  ps.tag = 4242;
  a->send_params(b->address(), ps, std::span<const float>(values).first(30), 1000ms);
  CHECK(sender.send(b->address(), h, std::vector<float>(200, 1.0f)));  // sent, but refused there
  REQUIRE(sender.send(b->address(), h, values));  // and the channel still works

  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard lock(mu);
      if (got.size() >= 2) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(100ms);
  receiver.stop();
  std::lock_guard lock(mu);
  REQUIRE(got.size() == 2);
  for (const auto& l : got) {
    CHECK(l.head.round == 7);
    CHECK(l.head.value == 1.5);
    CHECK(l.values == values);
    CHECK(l.from == a->address());
  }
  const auto c = receiver.counters();
  CHECK(c.malformed >= 4);
  CHECK(c.unknown_kind == 1);
  CHECK(receiver.last_heard(a->id()));
  CHECK(sb.bytes_recv.load() >= 2 * values.size() * sizeof(float));
  CHECK(sa.bytes_sent.load() >= 2 * values.size() * sizeof(float));
}
