#pragma once
// Subcommands of the `chorus` tool register themselves here, one file each:
//
//   static const bool registered = chorus::tools::register_command(
//       {"train", "Train a model in one process", [](CLI::App& app) { ...add options...;
//                                                       return [&]() -> int { ... }; }});
//
// Benchmarks register with register_bench() and appear as `chorus bench NAME`; every bench
// takes --json (one JSON line per measurement instead of a table).
// An action returns the process exit code; a thrown UserError becomes a one-line error with
// its exit code (2), anything else a one-line internal error with exit code 1.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace chorus::tools {

using Action = std::function<int()>;

struct CommandSpec {
  std::string name;
  std::string help;
  // Adds the command's options to `app` (whose lifetime is the process) and returns the
  // action run when the command was chosen.
  std::function<Action(CLI::App& app)> setup;
};

bool register_command(CommandSpec spec);
bool register_bench(CommandSpec spec);

}  // namespace chorus::tools
