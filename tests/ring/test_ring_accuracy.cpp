// All-reduce SGD is data-parallel SGD: four `chorus peer` processes averaging gradients every
// step (64 samples each) reach the test accuracy of one process training with the same total
// batch (256), schedule and epochs, within half a point.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/json_lines.h"
#include "tests/test_util.h"

using chorus_test::chorus_bin;
using chorus_test::run_command;
using nlohmann::json;

TEST_CASE("allreduce across 4 peers reaches the single-process accuracy at the same total batch") {
  chorus_test::TempDir dir;
  const std::string single_log = dir / "single.jsonl";
  const auto lines = chorus_test::run_logged("train --model mlp --epochs 5 --batch 256", single_log);
  REQUIRE_FALSE(lines.empty());
  const double single_acc = lines.back().at("final_test_acc").get<double>();

  const std::string out = dir / "swarm";
  const auto swarm = run_command(chorus_bin() + " swarm --peers 4 --strategy allreduce --model mlp --epochs 5 --batch 64 --out " + out);
  INFO(swarm.output);
  REQUIRE(swarm.exit_code == 0);
  std::ifstream in(out + "/summary.json");
  const json peers = json::parse(in);
  REQUIRE(peers.size() == 4);
  double mean = 0;
  for (const auto& p : peers) {
    CHECK(p.at("exit_code").get<int>() == 0);
    CHECK(p.at("steps").get<int>() == 5 * 235);  // 15000 samples per peer, batch 64
    mean += p.at("final_test_acc").get<double>() / 4;
  }
  MESSAGE("single process (batch 256): " << single_acc << ", allreduce swarm of 4 (64 each): " << mean);
  CHECK(mean >= single_acc - 0.005);
}
