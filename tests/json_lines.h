#pragma once
// The JSON-lines logs chorus writes: reading one while it is written or once it is finished,
// and running a chorus command that writes one.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace chorus_test {

// The lines of the log at `path` as JSON. A log still being written may end in half a line:
// `finished` false skips lines that do not parse; true throws on them.
inline std::vector<nlohmann::json> json_lines(const std::string& path, bool finished) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/finished);
    if (!j.is_discarded()) lines.push_back(std::move(j));
  }
  return lines;
}

// Every complete JSON line of a log written so far.
inline std::vector<nlohmann::json> read_json_lines(const std::string& path) { return json_lines(path, false); }

// Runs `chorus <arguments> --log <log>` (a shell command line), requires it to exit 0 (showing its
// output otherwise), and returns the lines of the log it wrote, every one of which must parse.
// Blocks until the command ends.
inline std::vector<nlohmann::json> run_logged(const std::string& arguments, const std::string& log) {
  const CommandResult r = run_command(chorus_bin() + " " + arguments + " --log " + log);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return json_lines(log, true);
}

}  // namespace chorus_test
