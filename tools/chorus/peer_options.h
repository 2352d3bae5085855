#pragma once
// The options of `chorus peer`, as one unit. `chorus peer` adds them, parses its command line
// and checks the result with these functions; `chorus swarm` and `chorus compare` parse and
// check the exact argument list each of their peers would get the same way, before they start
// any peer or write any file, so a bad option is reported once, in the peer's own words,
// instead of by every peer started with it.
#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "peers/runtime/peer_runtime.h"
#include "tools/chorus/train_options.h"

namespace chorus::tools {

// The strategy and the strategy options given on the command line.
struct StrategyArguments {
  std::string name = "local";
  std::vector<std::pair<std::string, std::string>> options;  // name without dashes, value as text
};

struct PeerOptions {
  PeerConfig config;  // the peer's own settings; peer_config() adds the rest below
  StrategyArguments strategy;
  TrainOptions train;
  std::vector<std::string> seeds;
  bool no_encrypt = false;
};

// Adds every option of `chorus peer` to `app`, storing into `options` (which must outlive the
// parsing); a value out of its range fails the parse.
void add_peer_options(CLI::App& app, PeerOptions& options);

// The strategy's options, part of add_peer_options: --strategy, and every option any
// registered strategy declares (strategy_registry.h), each once, its help naming the
// strategies that take it and their defaults. The ones given are collected into `arguments`
// for the chosen strategy to set (and to refuse when it has no such option).
void add_strategy_options(CLI::App& app, StrategyArguments& arguments);

// Checks what parsing alone cannot: --listen as an address to bind and each --seeds address to
// reach (on this host unless --key is given), the membership preset, the training options
// together, the strategy and its options (strategy_settings), and the data set's headers.
// Reads a few bytes of the data set, and a graph file when --graph names one; writes nothing.
// Throws UserError with the message the user sees.
void check_peer_options(const PeerOptions& options);

// The configuration run_peer() takes.
PeerConfig peer_config(const PeerOptions& options);

// Parses `args` (what follows `chorus peer`) in a fresh CLI::App set up by add_peer_options,
// as `chorus peer` would, and checks the result with check_peer_options. Throws UserError with
// the message that peer would print.
void check_peer_arguments(const std::vector<std::string>& args);

}  // namespace chorus::tools
