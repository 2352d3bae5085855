// `chorus topology` as a user meets it: the table, the closed-form values in it, and
// one-line errors with exit code 2.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "tests/test_util.h"

using chorus_test::chorus_bin;
using chorus_test::run_command;

TEST_CASE("chorus topology prints degree, diameter and SLEM for each graph and N") {
  const auto r = run_command(chorus_bin() + " topology --peers 8,12 --graph ring,complete,exponential");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const double ring8 = (1 + 2 * std::cos(2 * std::numbers::pi / 8)) / 3;
  CHECK(r.output.find(fmt::format("{:.6f}", ring8)) != std::string::npos);
  CHECK(r.output.find("exponential") != std::string::npos);
  CHECK(r.output.find("complete") != std::string::npos);
  const auto listed = run_command(chorus_bin() + " topology --peers 5 --graph ring --list --groups size:2");
  INFO(listed.output);
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("partner") != std::string::npos);
  CHECK(listed.output.find("size:2") != std::string::npos);
}

TEST_CASE("chorus topology: bad graphs and files are one-line errors with exit code 2") {
  chorus_test::TempDir dir("chorus-topology-cli");
  const std::string bad = dir / "bad.txt";
  std::ofstream(bad) << "tcp://a:1 tcp://b:1\ntcp://c:1\n";
  const std::vector<std::string> cases = {" topology --peers 4 --graph hypercube",
                                          " topology --graph ring", " topology --graph-file " + bad,
                                          " topology --peers 4 --groups size:0"};
  for (const std::string& args : cases) {
    const auto r = run_command(chorus_bin() + args);
    INFO(args, " -> ", r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.rfind("chorus: error: ", 0) == 0);
  }
  const auto r = run_command(chorus_bin() + " topology --graph-file " + bad);
  CHECK(r.output.find(bad + ":2") != std::string::npos);
}

TEST_CASE("chorus topology takes the peers from a graph file") {
  chorus_test::TempDir dir("chorus-topology-cli");
  const std::string file = dir / "g.txt";
  std::ofstream(file) << "tcp://a:1 tcp://b:1\ntcp://b:1 tcp://c:1\ntcp://c:1 tcp://a:1\n";
  const auto r = run_command(chorus_bin() + " topology --graph file --graph-file " + file);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("file") != std::string::npos);
}
