// Membership across real processes over ZeroMQ on loopback (membership_peer children, loopback
// preset): 4 peers join through one seed; one is stopped (SIGSTOP) for less than the
// suspicion timeout and refutes; one is killed (kill -9) and declared dead by every survivor,
// then restarted with the same id and a newer incarnation; one leaves on SIGTERM; the rest
// agree on one numbered view; a peer without a reachable seed starts alone. Then the
// detection times of a kill -9 with 4 and 8 peers are measured and printed.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>

#include "tests/peers/membership_process.h"

using namespace membership_test;
using chorus_test::eventually;
using Json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Peer {
  std::unique_ptr<PeerProcess> process;
  std::string address;
  std::uint64_t id = 0;
  std::uint64_t incarnation = 0;
  bool joined = false;
};

Peer launch(const std::string& bind, const std::vector<std::string>& seeds) {
  std::vector<std::string> args{"--bind", bind, "--preset", "loopback"};
  for (const auto& s : seeds) {
    args.push_back("--seed");
    args.push_back(s);
  }
  Peer p;
  p.process = std::make_unique<PeerProcess>(args);
  const auto ready = p.process->wait_for([](const Json& j) { return j.value("event", "") == "ready"; }, 10s);
  REQUIRE_MESSAGE(ready.has_value(), "membership_peer did not start (is CHORUS_MEMBERSHIP_PEER set?)");
  p.address = (*ready)["address"].get<std::string>();
  p.id = (*ready)["id"].get<std::uint64_t>();
  p.incarnation = (*ready)["incarnation"].get<std::uint64_t>();
  p.joined = (*ready)["joined"].get<bool>();
  return p;
}

std::function<bool(const Json&)> event_about(const std::string& kind, std::uint64_t id) {
  return [kind, id](const Json& j) {
    return j.value("event", "") == kind && j.contains("member") && j["member"].get<std::uint64_t>() == id;
  };
}

std::function<bool(const Json&)> view_of_size(std::size_t n) {
  return [n](const Json& j) { return j.contains("members") && j["members"].size() == n; };
}

std::size_t count_events(const Peer& p, const std::string& kind, std::uint64_t id) {
  std::size_t n = 0;
  for (const auto& j : p.process->lines()) n += event_about(kind, id)(j) ? 1 : 0;
  return n;
}

// Whether these peers report the same view number and exactly these members.
bool agree(std::vector<Peer*> peers, const std::set<std::uint64_t>& expect) {
  std::optional<std::uint64_t> number;
  for (Peer* p : peers) {
    const auto v = p->process->view();
    if (!v) return false;
    std::set<std::uint64_t> got;
    for (const auto& m : (*v)["members"]) got.insert(m.get<std::uint64_t>());
    if (got != expect) return false;
    const auto n = (*v)["view"].get<std::uint64_t>();
    if (number && *number != n) return false;
    number = n;
  }
  return true;
}

// A loopback TCP address nobody listens on (a port the kernel just handed out and took back).
std::string unused_address() { return "tcp://127.0.0.1:" + std::to_string(chorus_test::free_loopback_port()); }

}  // namespace

TEST_CASE("membership processes: join, SIGSTOP and refute, kill -9, restart, SIGTERM leave, agree, alone") {
  std::vector<Peer> p;
  p.push_back(launch("tcp://127.0.0.1:*", {}));
  CHECK_FALSE(p[0].joined);
  const double t_launch = monotonic_ms();
  for (int i = 1; i < 4; ++i) {
    p.push_back(launch("tcp://127.0.0.1:*", {p[0].address}));
    CHECK(p[i].joined);
  }

  // 1. Everyone sees the 4-member view within 2 s.
  for (auto& peer : p) {
    const auto full = peer.process->wait_for(view_of_size(4), 2500ms);
    REQUIRE(full.has_value());
    const double after = (*full)["t_ms"].get<double>() - t_launch;
    MESSAGE("4-member view after " << after << " ms");
    CHECK(after <= 2000);
  }

  // 2. SIGSTOP for less than the suspicion timeout (until someone suspects it, at most 900 ms).
  Peer& paused = p[2];
  const auto stop_at = std::chrono::steady_clock::now();
  paused.process->signal(SIGSTOP);
  eventually(900ms, [&] {
    return count_events(p[0], "suspect", paused.id) + count_events(p[1], "suspect", paused.id) +
               count_events(p[3], "suspect", paused.id) > 0;
  });
  paused.process->signal(SIGCONT);
  MESSAGE("stopped for " << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - stop_at).count()
                         << " ms");
  for (int i : {0, 1, 3}) {
    // Refuted: every other peer sees it alive again with a higher incarnation.
    const auto alive = p[i].process->wait_for([&](const Json& j) {
      return event_about("alive", paused.id)(j) && j["incarnation"].get<std::uint64_t>() > paused.incarnation;
    }, 3s);
    CHECK(alive.has_value());
  }
  const auto paused_view = paused.process->view();
  REQUIRE(paused_view.has_value());
  CHECK((*paused_view)["incarnation"].get<std::uint64_t>() > paused.incarnation);
  CHECK((*paused_view)["refutations"].get<std::uint64_t>() >= 1);
  for (auto& peer : p)
    for (const auto& j : peer.process->lines()) CHECK(j.value("event", "") != "dead");

  // 3. kill -9: every survivor declares it dead within 5 s.
  const Peer killed_before = {nullptr, p[3].address, p[3].id, p[3].incarnation, false};
  const double t_kill = monotonic_ms();
  p[3].process->signal(SIGKILL);
  for (int i : {0, 1, 2}) {
    const auto dead = p[i].process->wait_for(event_about("dead", killed_before.id), 6s);
    REQUIRE(dead.has_value());
    const double after = (*dead)["t_ms"].get<double>() - t_kill;
    MESSAGE("kill -9 declared dead after " << after << " ms");
    CHECK(after <= 5000);
  }

  // 4. Restarted at the same address: the same id, a newer incarnation, back in every view.
  p[3] = launch(killed_before.address, {p[0].address});
  CHECK(p[3].id == killed_before.id);
  CHECK(p[3].incarnation > killed_before.incarnation);
  for (int i : {0, 1, 2}) {
    const auto back = p[i].process->wait_for([&](const Json& j) {
      return event_about("join", p[3].id)(j) && j["incarnation"].get<std::uint64_t>() == p[3].incarnation;
    }, 3s);
    CHECK(back.has_value());
  }

  // 5. SIGTERM: a graceful leave, seen at once (no suspicion, no timeout).
  const double t_term = monotonic_ms();
  p[1].process->signal(SIGTERM);
  CHECK(p[1].process->wait_exit(2s));
  CHECK(p[1].process->exit_code() == 0);
  for (int i : {0, 2, 3}) {
    const auto left = p[i].process->wait_for(event_about("leave", p[1].id), 2s);
    REQUIRE(left.has_value());
    const double after = (*left)["t_ms"].get<double>() - t_term;
    MESSAGE("SIGTERM leave seen after " << after << " ms");
    CHECK(after < 1000);
    CHECK(count_events(p[i], "dead", p[1].id) == 0);
  }

  // 6. Once quiet, the remaining peers hold the same numbered view.
  CHECK(eventually(5s, [&] { return agree({&p[0], &p[2], &p[3]}, {p[0].id, p[2].id, p[3].id}); }));

  // 7. No reachable seed: a swarm of one, which merges when a peer appears at the seed's address.
  const std::string nobody = unused_address();
  Peer alone = launch("tcp://127.0.0.1:*", {nobody});
  CHECK_FALSE(alone.joined);
  const auto first = alone.process->lines();
  REQUIRE_FALSE(first.empty());
  CHECK(first.back()["members"].size() == 1);
  Peer late = launch(nobody, {});
  CHECK(alone.process->wait_for(view_of_size(2), 5s).has_value());
  CHECK(late.process->wait_for(view_of_size(2), 5s).has_value());
}

TEST_CASE("membership processes: detection times of kill -9 with 4 and 8 peers (loopback preset)") {
  const int repeats = std::max(1, std::stoi(chorus_test::env_or("CHORUS_MEMBERSHIP_REPEATS", "1")));
  for (std::size_t n : {std::size_t{4}, std::size_t{8}}) {
    for (int rep = 0; rep < repeats; ++rep) {
      std::vector<Peer> p;
      p.push_back(launch("tcp://127.0.0.1:*", {}));
      for (std::size_t i = 1; i < n; ++i) p.push_back(launch("tcp://127.0.0.1:*", {p[0].address}));
      for (auto& peer : p) REQUIRE(peer.process->wait_for(view_of_size(n), 3s).has_value());
      std::this_thread::sleep_for(300ms);
      Peer& victim = p.back();
      const double t_kill = monotonic_ms();
      victim.process->signal(SIGKILL);
      double first_suspect = 1e9, first_dead = 1e9, last_dead = 0;
      for (std::size_t i = 0; i + 1 < n; ++i) {
        const auto dead = p[i].process->wait_for(event_about("dead", victim.id), 6s);
        REQUIRE(dead.has_value());
        const double after = (*dead)["t_ms"].get<double>() - t_kill;
        CHECK(after <= 5000);
        first_dead = std::min(first_dead, after);
        last_dead = std::max(last_dead, after);
        for (const auto& j : p[i].process->lines())
          if (event_about("suspect", victim.id)(j))
            first_suspect = std::min(first_suspect, j["t_ms"].get<double>() - t_kill);
      }
      CHECK(first_suspect < first_dead);
      std::printf("DETECTION peers=%zu first_suspicion_ms=%.0f first_dead_ms=%.0f all_dead_ms=%.0f\n", n,
                  first_suspect, first_dead, last_dead);
      std::fflush(stdout);
      MESSAGE(n << " peers, kill -9: first suspicion " << first_suspect << " ms, first dead " << first_dead
                << " ms, all dead " << last_dead << " ms");
    }
  }
}
