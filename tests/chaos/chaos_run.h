#pragma once
// Runs `chorus chaos` for a test and reads its report (chaos.json in the run directory).
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_util.h"

namespace chorus_test {

struct ChaosRun {
  int exit_code = -1;
  std::string output;     // the tool's whole output: progress, the report, the replay line
  nlohmann::json report;  // chaos.json; null when the tool wrote none
};

// `chorus chaos ARGS --run-dir DIR` (a shell command line); blocks until the tool ends. The
// tool bounds its own run (--baseline + --duration + --settle, then a graceful stop).
inline ChaosRun run_chaos(const std::string& args, const std::string& dir) {
  ChaosRun r;
  const CommandResult c = run_command(chorus_bin() + " chaos --run-dir " + dir + " " + args);
  r.exit_code = c.exit_code;
  r.output = c.output;
  std::ifstream in(dir + "/chaos.json");
  if (in) r.report = nlohmann::json::parse(in, nullptr, false);
  return r;
}

// The report's invariant `name` (null if missing).
inline nlohmann::json invariant(const ChaosRun& r, const std::string& name) {
  if (!r.report.is_object()) return {};
  for (const auto& i : r.report["invariants"])
    if (i["name"] == name) return i;
  return {};
}

}  // namespace chorus_test
