// The strategy registry is the only list of strategies. `chorus-with-example` is the chorus
// tool built with one more strategy file (tests/tools/example_strategy.cpp, one line in
// tests/tools/meson.build): that strategy appears in `chorus peer --help`, in `chorus compare`'s
// default list, and runs in a real swarm; the ordinary chorus has none of it.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

using chorus_test::run_command;
using chorus_test::TempDir;

namespace {

std::string example_bin() { return chorus_test::env_or("CHORUS_WITH_EXAMPLE_BIN", "build/tests/tools/chorus-with-example"); }

}  // namespace

TEST_CASE("a strategy added as one file is in --help and in compare's default list") {
  auto r = run_command(example_bin() + " peer --help");
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("example         an example strategy of the test build") != std::string::npos);
  CHECK(r.output.find("--first N") != std::string::npos);
  r = run_command(example_bin() + " compare --help");
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("allreduce,kavg,hier,elastic-gossip,gossip,easgd,lsgd,downpour,example") != std::string::npos);

  // The ordinary tool has none of it.
  r = run_command(chorus_test::chorus_bin() + " peer --help");
  CHECK(r.output.find("example") == std::string::npos);
  r = run_command(chorus_test::chorus_bin() + " peer --strategy example --max-steps 1");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("unknown strategy 'example'") != std::string::npos);
}

TEST_CASE("a strategy added as one file runs in a swarm, and its options are checked") {
  TempDir dir("chorus-example");
  const std::string out = dir / "run";
  auto r = run_command(example_bin() + " swarm --peers 2 --out " + out + " --strategy example --first 2 --max-steps 24" +
                       " --epochs 1 --data " + chorus_test::data_dir());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (int i = 0; i < 2; ++i) {
    std::ifstream log(out + "/peer" + std::to_string(i) + ".jsonl");
    std::string line, strategy;
    bool done = false;
    std::uint64_t sent = 0;
    while (std::getline(log, line)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.value("event", "") == "start") strategy = j.value("strategy", "");
      if (j.value("event", "") == "done") {
        done = true;
        sent = j.value("bytes_sent", std::uint64_t{0});
      }
    }
    CHECK(strategy == "example");
    CHECK(done);
    CHECK(sent > 0);  // it averaged with the other peer
  }

  r = run_command(example_bin() + " peer --strategy example --first 0 --max-steps 1");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--first must be an integer from 1 to 1000") != std::string::npos);
}
