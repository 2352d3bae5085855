// chorus chaos before it runs anything: every bad argument is one line on stderr, exit code 2,
// and nothing written; and its fault schedule, which one seed fixes and which keeps the swarm
// near its size.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "foundations/base/error.h"
#include "tests/test_util.h"
#include "tools/chorus/chaos_schedule.h"

using namespace chorus::tools;

namespace {

// `chorus chaos ARGS --run-dir DIR/run` must fail with exit 2, one "chorus: error:" line
// containing `says`, and no run directory.
void expect_refused(const std::string& args, const std::string& says) {
  chorus_test::TempDir dir("chorus-chaos-args");
  const std::string run = dir / "run";
  const auto r = chorus_test::run_command(chorus_test::chorus_bin() + " chaos --run-dir " + run + " " + args);
  INFO(args, " -> ", r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.rfind("chorus: error: ", 0) == 0);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  CHECK(r.output.find(says) != std::string::npos);
  CHECK(!std::filesystem::exists(run));
}

std::vector<ChaosFault> draws(std::uint64_t seed, const ChaosScheduleSettings& s, int n) {
  ChaosSchedule schedule(seed, s);
  std::vector<ChaosFault> out;
  for (int i = 0; i < n; ++i) out.push_back(*schedule.next());
  return out;
}

ChaosScheduleSettings all_kinds(int peers) {
  ChaosScheduleSettings s;
  s.peers = peers;
  for (const auto& name : chaos_kind_names()) s.kinds.push_back(parse_chaos_kind(name));
  s.every = {3, 5};
  return s;
}

}  // namespace

TEST_CASE("bad arguments are refused before anything starts") {
  expect_refused("--fault-every 5-3", "--fault-every 5-3");
  expect_refused("--fault-every 0-2", "--fault-every");
  expect_refused("--fault-every x", "not a number");
  expect_refused("--faults kill,boom", "unknown fault kind 'boom'");
  expect_refused("--strategy nope", "unknown strategy 'nope'");
  expect_refused("--peers 1", "--peers");
  expect_refused("--duration 0", "--duration");
  expect_refused("--seed -3", "--seed");
  expect_refused("--script kill:9@2", "no peer 9");
  expect_refused("--script partition@99+5 --duration 20", "0..20");
  expect_refused("--script kill:1@2 --faults kill", "--script");
  expect_refused("-- --k 0", "--k");                         // a strategy option, checked as the peer would
  expect_refused("-- --strategy lsgd", "before --");         // chaos's own option among the peer's
  expect_refused("--no-such-flag", "--no-such-flag");
}

TEST_CASE("--help explains the faults, the invariants and the replay") {
  const auto r = chorus_test::run_command(chorus_test::chorus_bin() + " chaos --help");
  CHECK(r.exit_code == 0);
  for (const char* word : {"--fault-every", "partition", "restart", "Invariants", "replay", "--settle", "--script"})
    CHECK_MESSAGE(r.output.find(word) != std::string::npos, word);
}

TEST_CASE("the fault interval and the script parse, and say what is wrong") {
  CHECK(parse_fault_interval("4-8").min_s == 4);
  CHECK(parse_fault_interval("4-8").max_s == 8);
  CHECK(parse_fault_interval("2.5").max_s == 2.5);
  CHECK_THROWS_AS(parse_fault_interval("8-4"), chorus::UserError);
  const auto script = parse_chaos_script("join@3,partition@5+15,stop:1@2+1.5", 4, 30);
  REQUIRE(script.size() == 3);
  CHECK(script[0].kind == ChaosKind::stop);  // in time order
  CHECK(script[1].kind == ChaosKind::join);
  CHECK(script[1].peer == 4);                // the first peer after the initial 0..3
  CHECK(script[2].sides == std::vector<std::vector<int>>{{0, 1}, {2, 3}});
  CHECK_THROWS_AS(parse_chaos_script("stop:1@2", 4, 30), chorus::UserError);
}

TEST_CASE("one seed gives one schedule; another seed another") {
  const auto s = all_kinds(5);
  const auto a = draws(42, s, 40), b = draws(42, s, 40), c = draws(43, s, 40);
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].describe() == b[i].describe());
    CHECK(a[i].at_s == b[i].at_s);
    differs = differs || a[i].describe() != c[i].describe() || a[i].at_s != c[i].at_s;
  }
  CHECK(differs);
}

TEST_CASE("the schedule keeps the swarm near its size and never takes the last peers") {
  for (int peers : {2, 3, 5, 8}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      const auto s = all_kinds(peers);
      const int floor = std::clamp(std::max(2, peers - 2), 1, peers - 1);
      std::vector<bool> up(static_cast<std::size_t>(peers), true);
      std::vector<double> paused_until(static_cast<std::size_t>(peers), 0);
      double last = 0;
      for (const auto& f : draws(seed, s, 60)) {
        INFO("peers ", peers, " seed ", seed, " at ", f.at_s, ": ", f.describe());
        CHECK(f.at_s - last >= 3 - 1e-9);
        CHECK(f.at_s - last <= 5 + 1e-9);
        last = f.at_s;
        if (f.none) continue;
        int active = 0;
        for (std::size_t i = 0; i < up.size(); ++i) active += up[i] && paused_until[i] <= f.at_s;
        switch (f.kind) {
          case ChaosKind::kill:
          case ChaosKind::term:
          case ChaosKind::stop:
            CHECK(up[static_cast<std::size_t>(f.peer)]);
            CHECK(active - 1 >= floor);
            if (f.kind == ChaosKind::stop) {
              CHECK(f.duration_s >= 1);
              CHECK(f.duration_s <= 4);
              paused_until[static_cast<std::size_t>(f.peer)] = f.at_s + f.duration_s;
            } else {
              up[static_cast<std::size_t>(f.peer)] = false;
            }
            break;
          case ChaosKind::restart:
            up[static_cast<std::size_t>(f.peer)] = true;
            paused_until[static_cast<std::size_t>(f.peer)] = 0;
            break;
          case ChaosKind::join:
            CHECK(f.peer == static_cast<int>(up.size()));
            CHECK(f.peer < ChaosSchedule::max_peers(peers));
            up.push_back(true);
            paused_until.push_back(0);
            break;
          case ChaosKind::partition:
            CHECK(f.sides.size() == 2);
            CHECK(f.duration_s >= 10);
            CHECK(f.duration_s <= 20);
            break;
        }
      }
    }
  }
}
