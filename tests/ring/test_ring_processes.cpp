// A real process killed with SIGKILL in the middle of a run of all-reduces over ZeroMQ on
// loopback, with SWIM membership: the survivors finish every round with one result each
// (identical on all of them: the sum over all members, or over the survivors when the dead
// member's values had not all gone out), none fails, none waits for a timeout, and the rounds
// after the death combine the survivors only.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/child_process.h"
#include "tests/json_lines.h"
#include "tests/ring/ring_values.h"
#include "tests/test_util.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kPeers = 4, kVictim = 2;
constexpr std::size_t kLength = std::size_t{1} << 20;  // 4 MiB: a collective takes milliseconds
constexpr std::uint64_t kRounds = 400;

double expected_checksum(const std::vector<int>& members, std::uint64_t round) {
  double s = 0;
  for (int i : members)
    for (std::size_t k = 0; k < kLength; ++k) s += ring_test::value(static_cast<std::size_t>(i), k, round);
  return s;
}

struct Line {
  std::uint64_t round = 0;
  std::string status;
  std::size_t contributors = 0;
  double checksum = 0, seconds = 0;
};

struct PeerLog {
  std::vector<Line> rounds;
  bool finished = false;
};

PeerLog read_log(const fs::path& path) {
  PeerLog log;
  for (const nlohmann::json& j : chorus_test::read_json_lines(path.string())) {
    if (j.contains("finished")) log.finished = true;
    if (!j.contains("round")) continue;
    log.rounds.push_back({j["round"], j["status"], j["contributors"], j["checksum"], j["seconds"]});
  }
  return log;
}

std::uint64_t last_round(const PeerLog& log) { return log.rounds.empty() ? 0 : log.rounds.back().round; }

}  // namespace

TEST_CASE("a peer killed with SIGKILL mid-run leaves the survivors consistent and training") {
  const char* bin = std::getenv("CHORUS_RING_PEER");
  if (!bin || !fs::exists(bin)) chorus_test::skip("CHORUS_RING_PEER is not set (run through meson test)");
  chorus_test::TempDir dir("chorus-ring");
  std::vector<std::unique_ptr<chorus_test::ChildProcess>> peers;  // killed and reaped however the test ends
  for (int i = 0; i < kPeers; ++i)
    peers.push_back(std::make_unique<chorus_test::ChildProcess>(
        bin, std::vector<std::string>{dir.path().string(), std::to_string(i), std::to_string(kPeers),
                                      std::to_string(kLength), std::to_string(kRounds)}));
  const auto log_of = [&](int i) { return read_log(dir.path() / fmt::format("peer-{}.log", i)); };

  // Everybody is past round 5: kill one in the middle of whatever it is doing.
  const bool started = chorus_test::eventually(40s, [&] {
    for (int i = 0; i < kPeers; ++i)
      if (last_round(log_of(i)) < 5) return false;
    return true;
  }, 20ms);
  if (!started) FAIL("the peers did not get through 5 rounds");
  std::this_thread::sleep_for(7ms);
  peers[kVictim]->signal(SIGKILL);
  std::uint64_t killed_at = 0;
  for (int i = 0; i < kPeers; ++i) killed_at = std::max(killed_at, last_round(log_of(i)));

  // The survivors go on: ten more rounds each.
  const bool went_on = chorus_test::eventually(40s, [&] {
    for (int i = 0; i < kPeers; ++i)
      if (i != kVictim && last_round(log_of(i)) < killed_at + 10) return false;
    return true;
  }, 20ms);
  std::ofstream(dir.path() / "stop") << "stop\n";
  for (int i = 0; i < kPeers; ++i)
    if (i != kVictim) peers[i]->signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < kPeers; ++i)
    if (i != kVictim) peers[i]->signal(SIGKILL);
  REQUIRE_MESSAGE(went_on, "the survivors did not complete 10 rounds after the kill");

  std::vector<int> all{0, 1, 2, 3}, survivors{0, 1, 3};
  std::map<std::uint64_t, std::pair<double, std::size_t>> first_seen;  // round -> checksum, contributors
  std::size_t after_kill_rounds = 0;
  for (int i : survivors) {
    CAPTURE(i);
    const PeerLog log = log_of(i);
    for (const Line& l : log.rounds) {
      CAPTURE(l.round);
      CHECK_MESSAGE(l.status != "failed", "round ", l.round, " failed");
      if (l.status != "done") continue;
      CHECK(l.seconds < 20.0);  // never the 30 s timeout
      auto [it, fresh] = first_seen.emplace(l.round, std::make_pair(l.checksum, l.contributors));
      if (!fresh) {
        CHECK(it->second.first == l.checksum);
        CHECK(it->second.second == l.contributors);
      }
      if (l.contributors == 4) CHECK(l.checksum == expected_checksum(all, l.round));
      else if (l.contributors == 3) CHECK(l.checksum == expected_checksum(survivors, l.round));
      else FAIL_CHECK("a round combined ", l.contributors, " members");
      if (l.round > killed_at + 1) {
        CHECK(l.contributors == 3);
        ++after_kill_rounds;
      }
    }
  }
  CHECK(after_kill_rounds >= 3 * 8);
  if (std::getenv("RING_TEST_VERBOSE"))
    for (int i : survivors)
      for (const Line& l : log_of(i).rounds)
        if (l.round + 3 >= killed_at && l.round <= killed_at + 4)
          std::fprintf(stderr, "peer %d round %llu: %s, %zu members, %.3f s\n", i,
                       static_cast<unsigned long long>(l.round), l.status.c_str(), l.contributors, l.seconds);
}
