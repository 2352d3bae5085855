// Membership with many members in one process on the in-process transport (loopback preset
// unless said otherwise): joining through one seed, crash detection, a frozen member that
// refutes, graceful leave, starting alone and merging, restarts, hostile messages, prompt
// stops, and views that agree once the swarm is quiet.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <numeric>
#include <random>

#include "foundations/base/error.h"
#include "foundations/wire/message_types.h"
#include "peers/membership/codec.h"
#include "tests/peers/inproc_swarm.h"

using namespace chorus;
using namespace membership_test;
using Kind = MembershipEvent::Kind;

namespace {

const MembershipTimings kLoopback = MembershipTimings::loopback();

// Every member's view numbers, in the order it reported them, never go down (a restarted
// member starts over).
void check_numbers_only_grow(const InprocSwarm& swarm) {
  std::map<std::pair<std::size_t, int>, std::uint64_t> last;
  for (const auto& e : swarm.events()) {
    auto [it, fresh] = last.try_emplace({e.observer, e.life}, e.event.view_number);
    if (!fresh) {
      CHECK(e.event.view_number >= it->second);
      it->second = e.event.view_number;
    }
  }
}

std::size_t start_swarm(InprocSwarm& swarm, std::size_t n) {
  CHECK_FALSE(swarm.start(0, {}));  // nobody to join: a swarm of one
  std::size_t joined = 0;
  for (std::size_t i = 1; i < n; ++i) joined += swarm.start(i, {InprocSwarm::address_of(0)}) ? 1 : 0;
  return joined;
}

// Starts n members seeded by member 0 and requires that within 3 s they agree on a view of all n.
void start_agreed(InprocSwarm& swarm, std::size_t n) {
  start_swarm(swarm, n);
  REQUIRE(eventually([&] { return swarm.agree() && swarm.member(0).view().size() == n; }, 3s));
}

// Checks that no member but `id` was declared dead by anyone.
void check_only_dead(const InprocSwarm& swarm, PeerId id) {
  for (const auto& e : swarm.events())
    if (e.event.kind == Kind::dead) CHECK(e.event.member.id == id);
}

}  // namespace

TEST_CASE("membership in process: 24 members seeded by one all see the full view, then agree") {
  InprocSwarm swarm(kLoopback);
  const auto t0 = Clock::now();
  CHECK(start_swarm(swarm, 24) == 23);
  const bool full = eventually([&] {
    for (std::size_t i = 0; i < 24; ++i)
      if (swarm.member(i).view().size() != 24) return false;
    return true;
  }, 3s);
  CHECK(full);
  MESSAGE("24 members: full view everywhere after " << ms_between(t0, Clock::now()) << " ms");
  CHECK(eventually([&] { return swarm.agree(); }, 5s));
  const View v = swarm.member(5).view();
  CHECK(v.index_of(swarm.id_of(17)) >= 0);
  CHECK(std::is_sorted(v.members.begin(), v.members.end(), [](auto& a, auto& b) { return a.id < b.id; }));
  CHECK(v.members[static_cast<std::size_t>(v.index_of(swarm.id_of(3)))].group == "odd");
  check_numbers_only_grow(swarm);
}

TEST_CASE("membership in process: a killed member is suspected, then declared dead by every survivor") {
  InprocSwarm swarm(kLoopback);
  start_agreed(swarm, 8);
  const PeerId victim = swarm.id_of(3);
  const auto killed = Clock::now();
  swarm.kill(3);
  const bool all_dead = eventually([&] {
    for (std::size_t i : swarm.running_members())
      if (swarm.member(i).state_of(victim) != MemberState::dead) return false;
    return true;
  }, 5s);
  CHECK(all_dead);
  const auto suspects = swarm.events_about(victim, Kind::suspect);
  const auto deaths = swarm.events_about(victim, Kind::dead);
  REQUIRE_FALSE(suspects.empty());
  REQUIRE(deaths.size() == 7);
  Clock::time_point first_dead = deaths.front().at, last_dead = deaths.front().at;
  for (const auto& d : deaths) {
    first_dead = std::min(first_dead, d.at);
    last_dead = std::max(last_dead, d.at);
  }
  CHECK(suspects.front().at < first_dead);
  MESSAGE("8 members in process, kill: first suspicion " << ms_between(killed, suspects.front().at)
                                                         << " ms, first dead " << ms_between(killed, first_dead)
                                                         << " ms, all dead " << ms_between(killed, last_dead) << " ms");
  // Nobody else was declared dead, and the survivors agree on the view.
  check_only_dead(swarm, victim);
  CHECK(eventually([&] { return swarm.agree(); }, 3s));
  CHECK(swarm.member(0).view().size() == 7);
  check_numbers_only_grow(swarm);
}

TEST_CASE("membership in process: a member frozen for less than the suspicion timeout refutes") {
  InprocSwarm swarm(kLoopback);
  start_agreed(swarm, 6);
  const PeerId frozen = swarm.id_of(2);
  const std::uint64_t before = swarm.member(2).incarnation();
  swarm.transport(2).freeze();
  const auto t0 = Clock::now();
  // Thaw as soon as someone suspects it (well before suspicion_min), or after 900 ms.
  eventually([&] { return !swarm.events_about(frozen, Kind::suspect).empty(); }, 900ms);
  swarm.transport(2).thaw();
  MESSAGE("frozen for " << ms_between(t0, Clock::now()) << " ms");
  REQUIRE_FALSE(swarm.events_about(frozen, Kind::suspect).empty());
  const bool refuted = eventually([&] {
    for (std::size_t i : swarm.running_members()) {
      if (i == 2) continue;
      const View v = swarm.member(i).view();
      const int at = v.index_of(frozen);
      if (at < 0 || v.members[static_cast<std::size_t>(at)].incarnation <= before) return false;
      if (swarm.member(i).state_of(frozen) != MemberState::alive) return false;
    }
    return true;
  }, 2s);
  CHECK(refuted);
  CHECK(swarm.member(2).incarnation() > before);
  CHECK(swarm.member(2).stats().refutations >= 1);
  CHECK(swarm.events_about(frozen, Kind::dead).empty());
  CHECK(eventually([&] { return swarm.agree(); }, 3s));
  CHECK(swarm.events_about(frozen, Kind::dead).empty());
  for (const auto& e : swarm.events()) CHECK(e.event.kind != Kind::dead);
}

TEST_CASE("membership in process: a member frozen past the suspicion timeout is declared dead, then comes back") {
  MembershipTimings fast = kLoopback;
  fast.probe_interval = 50ms;
  fast.probe_timeout = 25ms;
  fast.suspicion_min = 200ms;
  fast.suspicion_max = 400ms;
  fast.gossip_interval = 25ms;
  fast.sync_interval = 300ms;
  InprocSwarm swarm(fast);
  start_agreed(swarm, 5);
  const PeerId frozen = swarm.id_of(1);
  const std::uint64_t before = swarm.member(1).incarnation();
  swarm.transport(1).freeze();
  const bool dead = eventually([&] {
    for (std::size_t i : {0, 2, 3, 4})
      if (swarm.member(i).state_of(frozen) != MemberState::dead) return false;
    return true;
  }, 3s);
  swarm.transport(1).thaw();
  CHECK(dead);
  // Thawed, it hears of its death, refutes with a higher incarnation and is back everywhere.
  const bool back = eventually([&] {
    for (std::size_t i : {0, 2, 3, 4}) {
      const View v = swarm.member(i).view();
      const int at = v.index_of(frozen);
      if (at < 0 || v.members[static_cast<std::size_t>(at)].incarnation <= before) return false;
    }
    return true;
  }, 3s);
  CHECK(back);
  CHECK(swarm.member(1).incarnation() > before);
  CHECK(swarm.events_about(frozen, Kind::join).size() >= 4);  // rejoined every other view
  CHECK(eventually([&] { return swarm.agree(); }, 3s));
  // Nobody else died meanwhile: the thawed member did not blame the others for its stall.
  check_only_dead(swarm, frozen);
  check_numbers_only_grow(swarm);
}

TEST_CASE("membership in process: a graceful leave is seen at once, without a timeout") {
  InprocSwarm swarm(kLoopback);
  start_agreed(swarm, 6);
  const PeerId leaver = swarm.id_of(4);
  const auto t0 = Clock::now();
  swarm.member(4).leave(500ms);
  const double leave_ms = ms_between(t0, Clock::now());
  CHECK(leave_ms < 700);
  const bool gone = eventually([&] {
    for (std::size_t i : swarm.running_members())
      if (i != 4 && swarm.member(i).state_of(leaver) != MemberState::left) return false;
    return true;
  }, 2s);
  CHECK(gone);
  const double seen_ms = ms_between(t0, Clock::now());
  MESSAGE("leave returned after " << leave_ms << " ms; every survivor dropped it after " << seen_ms << " ms");
  CHECK(seen_ms < kLoopback.suspicion_min.count());  // no suspicion timeout was waited out
  CHECK(swarm.events_about(leaver, Kind::leave).size() >= 5);
  CHECK(swarm.events_about(leaver, Kind::dead).empty());
  CHECK(swarm.events_about(leaver, Kind::suspect).empty());
  CHECK_FALSE(swarm.member(4).is_member(leaver));  // it left its own view too
  swarm.kill(4);
  CHECK(eventually([&] { return swarm.agree(); }, 3s));
}

TEST_CASE("membership in process: no reachable seed starts a swarm alone, which merges when the seed appears") {
  MembershipTimings t = kLoopback;
  t.join_timeout = 300ms;
  InprocSwarm swarm(t);
  const auto t0 = Clock::now();
  CHECK_FALSE(swarm.start(0, {InprocSwarm::address_of(1)}));  // nobody at member-1 yet
  const double waited = ms_between(t0, Clock::now());
  CHECK(waited >= 250);
  CHECK(waited < 1000);
  CHECK(swarm.member(0).view().size() == 1);
  CHECK(swarm.member(0).view().members[0].id == swarm.id_of(0));
  // member-1 starts its own swarm with member-2; member-0 keeps trying member-1 and merges.
  CHECK_FALSE(swarm.start(1, {}));
  CHECK(swarm.start(2, {InprocSwarm::address_of(1)}));
  CHECK(eventually([&] { return swarm.agree() && swarm.member(0).view().size() == 3; }, 4s));
  MESSAGE("merged after " << ms_between(t0, Clock::now()) << " ms");
}

TEST_CASE("membership in process: a restarted member replaces its old record, before or after its death") {
  InprocSwarm swarm(kLoopback);
  start_agreed(swarm, 6);

  // Restarted at once (before anyone noticed): the new incarnation replaces the old.
  const PeerId quick = swarm.id_of(4);
  const std::uint64_t old_quick = swarm.member(4).incarnation();
  swarm.kill(4);
  CHECK(swarm.start(4, {InprocSwarm::address_of(0)}));
  CHECK(swarm.id_of(4) == quick);
  CHECK(swarm.member(4).incarnation() > old_quick);

  // Restarted after it was declared dead: it comes back.
  const PeerId slow = swarm.id_of(5);
  swarm.kill(5);
  REQUIRE(eventually([&] { return swarm.member(0).state_of(slow) == MemberState::dead; }, 5s));
  CHECK(swarm.start(5, {InprocSwarm::address_of(1)}));

  const bool back = eventually([&] {
    for (std::size_t i : swarm.running_members()) {
      const View v = swarm.member(i).view();
      if (v.size() != 6) return false;
      if (v.members[static_cast<std::size_t>(v.index_of(quick))].incarnation != swarm.member(4).incarnation())
        return false;
    }
    return true;
  }, 3s);
  CHECK(back);
  CHECK(eventually([&] { return swarm.agree(); }, 4s));
  check_only_dead(swarm, slow);
  check_numbers_only_grow(swarm);
}

TEST_CASE("membership in process: a member's metadata reaches every member; a restart publishes none until set") {
  InprocSwarm swarm(kLoopback);
  start_agreed(swarm, 5);
  const PeerId id = swarm.id_of(2);
  const auto everyone_sees = [&](const std::string& meta) {
    return eventually([&] {
      for (std::size_t i : swarm.running_members()) {
        if (swarm.member(i).meta_of(id) != meta) return false;
        const View v = swarm.member(i).view();
        if (v.members[static_cast<std::size_t>(v.index_of(id))].meta != meta) return false;
      }
      return true;
    }, 3s);
  };
  CHECK(everyone_sees(""));
  const auto t0 = Clock::now();
  swarm.member(2).set_meta("strategy=kavg");
  CHECK(everyone_sees("strategy=kavg"));
  MESSAGE("metadata everywhere after " << ms_between(t0, Clock::now()) << " ms");
  swarm.member(2).set_meta("strategy=kavg;role=x");
  CHECK(everyone_sees("strategy=kavg;role=x"));
  CHECK_THROWS_AS(swarm.member(2).set_meta("has space"), UserError);
  CHECK_THROWS_AS(swarm.member(2).set_meta(std::string(256, 'a')), UserError);

  // A new incarnation says nothing until it says something again.
  swarm.kill(2);
  CHECK(swarm.start(2, {InprocSwarm::address_of(0)}));
  CHECK(everyone_sees(""));
  swarm.member(2).set_meta("strategy=lsgd");
  CHECK(everyone_sees("strategy=lsgd"));
  CHECK(eventually([&] { return swarm.agree(); }, 4s));
}

TEST_CASE("membership in process: hostile messages are dropped and counted; other layers' messages are left alone") {
  InprocSwarm swarm(kLoopback);
  start_agreed(swarm, 3);
  // The attacker: a fourth member of the same hub, its membership stopped, its transport raw.
  swarm.start(3, {});
  swarm.member(3).stop();
  Transport& raw = swarm.transport(3).inner();
  const std::string target = InprocSwarm::address_of(0);
  const auto before = swarm.member(0).stats();
  std::mt19937_64 rng(5);
  int sent = 0;
  for (std::uint16_t type = msg::kMembership.first; type <= 0x0108; ++type) {
    for (int i = 0; i < 20; ++i) {
      std::vector<std::byte> junk(rng() % 200);
      for (auto& b : junk) b = static_cast<std::byte>(rng());
      if (raw.send(target, type, junk, 100ms) == SendStatus::kOk) ++sent;
    }
  }
  // A well-formed message whose sender claims an incarnation older than its transport's.
  membership::Message lie;
  lie.type = membership::kGossip;
  lie.sender.incarnation = 1;
  const auto lie_bytes = membership::encode(lie);
  if (raw.send(target, membership::kGossip, lie_bytes, 100ms) == SendStatus::kOk) ++sent;
  // A message for another layer, which membership must not take.
  const std::vector<std::byte> note{std::byte{1}, std::byte{2}};
  REQUIRE(raw.send(target, msg::kTest.first, note, 100ms) == SendStatus::kOk);
  CHECK(sent > 100);
  CHECK(eventually([&] {
    return swarm.member(0).stats().malformed_dropped - before.malformed_dropped == static_cast<std::uint64_t>(sent);
  }, 3s));
  const auto other = swarm.transport(0).inner().receive(1s, msg::kTest);
  REQUIRE(other.has_value());
  CHECK(other->bytes().size() == 2);
  // Still working: the view is intact and a new member is seen.
  CHECK(swarm.member(0).view().size() >= 3);
  swarm.kill(3);
  CHECK(swarm.start(4, {InprocSwarm::address_of(1)}));
  CHECK(eventually([&] { return swarm.member(0).is_member(swarm.id_of(4)); }, 3s));
}

TEST_CASE("membership in process: stop and destruction are prompt, whatever the preset") {
  for (const std::string preset : {"loopback", "lan", "wan"}) {
    InprocSwarm swarm(MembershipTimings::preset(preset));
    swarm.start(0, {});
    CHECK(swarm.start(1, {InprocSwarm::address_of(0)}));
    CHECK(eventually([&] { return swarm.agree() && swarm.member(1).view().size() == 2; }, 3s));
    std::this_thread::sleep_for(100ms);
    const auto t0 = Clock::now();
    swarm.member(1).stop();
    swarm.member(1).stop();  // twice is fine
    const double stop_ms = ms_between(t0, Clock::now());
    const auto t1 = Clock::now();
    swarm.kill(0);
    const double destroy_ms = ms_between(t1, Clock::now());
    MESSAGE(preset << ": stop " << stop_ms << " ms, destroy " << destroy_ms << " ms");
    CHECK(stop_ms < 500);
    CHECK(destroy_ms < 500);
  }
}

TEST_CASE("membership in process: wrong identity, group or timings are user errors") {
  auto hub = std::make_shared<InprocHub>();
  TransportConfig config;
  config.address = "inproc://solo";
  auto t = make_inproc_transport(hub, config);
  Member self{t->id(), t->address(), "", 0};
  Member wrong_id = self;
  wrong_id.id += 1;
  CHECK_THROWS_AS(Membership(*t, wrong_id, {}, kLoopback), UserError);
  Member wrong_address = self;
  wrong_address.address = "inproc://elsewhere";
  CHECK_THROWS_AS(Membership(*t, wrong_address, {}, kLoopback), UserError);
  Member bad_group = self;
  bad_group.group = "two words";
  CHECK_THROWS_AS(Membership(*t, bad_group, {}, kLoopback), UserError);
  MembershipTimings bad = kLoopback;
  bad.probe_timeout = 0ms;
  CHECK_THROWS_AS(Membership(*t, self, {}, bad), UserError);
  // Filled in from the transport; the incarnation is at least the transport's.
  Membership m(*t, Member{}, {t->address()}, kLoopback);
  CHECK(m.self().id == t->id());
  CHECK(m.self().address == t->address());
  CHECK(m.incarnation() >= t->incarnation());
  CHECK_FALSE(m.start());  // only itself as a seed: nothing to wait for
  CHECK(m.view().size() == 1);
  CHECK(m.state_of(12345) == MemberState::dead);
  const View v = m.wait_for_change(m.view().number, 50ms);
  CHECK(v.size() == 1);
}
