// A network partition, as root: 4 peers in network namespaces split 2|2 for 15 s (blackhole
// routes), then healed; within 60 s of the heal every peer must hold one 4-member view, and
// every peer must keep stepping throughout (chorus chaos --script partition@5+15, invariants
// 1 and 3). For kavg, elastic-gossip and lsgd. Skipped (77) without root or `ip netns`.
#include <doctest/doctest.h>
#include <unistd.h>

#include "tests/chaos/chaos_run.h"

namespace {

void partition(const std::string& strategy) {
  if (geteuid() != 0) chorus_test::skip("a partition splits network namespaces, which needs root");
  if (chorus_test::run_command("ip netns list").exit_code != 0) chorus_test::skip("`ip netns` is unavailable");
  chorus_test::TempDir dir("chorus-chaos-partition");
  const std::string run = dir / "run";
  // The heal comes at 20 s of the 21 s of faults; --settle 60 starts at 21 s.
  const auto r = chorus_test::run_chaos(
      "--strategy " + strategy + " --peers 4 --baseline 5 --duration 21 --script partition@5+15 --settle 60", run);
  {
    INFO(strategy, ":\n", r.output);  // the report, with the evidence of any failed invariant
    REQUIRE(r.report.is_object());
    CHECK(r.exit_code == 0);
  }
  REQUIRE(r.report["faults"].size() == 2);
  CHECK(r.report["faults"][0]["kind"] == "partition");
  CHECK(r.report["faults"][0]["peer"] == "0,1 | 2,3");
  CHECK(r.report["faults"][1]["kind"] == "heal");
  CHECK(chorus_test::invariant(r, "one view")["pass"] == true);
  CHECK(chorus_test::invariant(r, "progress")["pass"] == true);
}

}  // namespace

TEST_CASE("kavg: a 2|2 partition heals into one 4-member view") { partition("kavg"); }
TEST_CASE("elastic-gossip: a 2|2 partition heals into one 4-member view") { partition("elastic-gossip"); }
TEST_CASE("lsgd: a 2|2 partition heals into one 4-member view") { partition("lsgd"); }
