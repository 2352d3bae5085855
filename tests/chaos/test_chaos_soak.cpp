// A short chorus chaos soak for one strategy of each family — kavg (ring), elastic-gossip
// (gossip), lsgd (leader): 3 peers, a 5 s baseline, 20 s of kill, term, stop, restart and join
// faults every 3-5 s, then up to 10 s to settle. Every invariant must hold; on a failure the
// test shows the tool's report (the evidence and the replay line).
#include <doctest/doctest.h>

#include "tests/chaos/chaos_run.h"

namespace {

void soak(const std::string& strategy) {
  chorus_test::TempDir dir("chorus-chaos-soak");
  const std::string run = dir / "run";
  const auto r = chorus_test::run_chaos("--strategy " + strategy +
                                            " --peers 3 --baseline 5 --duration 20 --fault-every 3-5 "
                                            "--faults kill,term,stop,restart,join --settle 10",
                                        run);
  {
    INFO(strategy, ":\n", r.output);  // the report, with the evidence of any failed invariant
    REQUIRE(r.report.is_object());
    CHECK(r.exit_code == 0);
  }
  CHECK(r.output.find("chaos: strategy " + strategy + ", 3 peers, seed ") != std::string::npos);
  CHECK(r.report["invariants"].size() == 6);
  CHECK(r.report["throughput"]["pass"].is_boolean());
  CHECK(r.report["faults"].size() >= 3);  // 20 s at 3-5 s between faults: 4 or 5 drawn
  CHECK(r.report["baseline_steps_per_s"].is_number());
  if (r.exit_code == 0) CHECK(r.output.find("result: PASS") != std::string::npos);
  else CHECK(r.output.find("replay: chorus chaos") != std::string::npos);
}

}  // namespace

TEST_CASE("kavg (ring family) holds every invariant under random faults") { soak("kavg"); }
TEST_CASE("elastic-gossip (gossip family) holds every invariant under random faults") { soak("elastic-gossip"); }
TEST_CASE("lsgd (leader family) holds every invariant under random faults") { soak("lsgd"); }
