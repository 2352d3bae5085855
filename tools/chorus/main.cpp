// chorus: one executable, a subcommand per tool (train, peer, swarm, bench, keygen, ...).
#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <vector>

#include "chorus_config.h"
#include "foundations/base/error.h"
#include "tools/chorus/command.h"

namespace chorus::tools {

namespace {
std::vector<CommandSpec>& commands() {
  static std::vector<CommandSpec> list;
  return list;
}
std::vector<CommandSpec>& benches() {
  static std::vector<CommandSpec> list;
  return list;
}
}  // namespace

bool register_command(CommandSpec spec) {
  commands().push_back(std::move(spec));
  return true;
}

bool register_bench(CommandSpec spec) {
  benches().push_back(std::move(spec));
  return true;
}

}  // namespace chorus::tools

int main(int argc, char** argv) {
  using namespace chorus::tools;
  CLI::App app{"chorus " CHORUS_VERSION
               ": peer-to-peer decentralized training.\n"
               "Each node runs one `chorus peer`; there is no coordinator."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("chorus ") + CHORUS_VERSION);

  std::vector<std::pair<CLI::App*, Action>> actions;
  for (auto& spec : commands()) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.help);
    actions.emplace_back(sub, spec.setup(*sub));
  }
  if (!benches().empty()) {
    CLI::App* bench = app.add_subcommand("bench", "Benchmarks (speed is measured here, never in tests)");
    bench->require_subcommand(1);
    for (auto& spec : benches()) {
      CLI::App* sub = bench->add_subcommand(spec.name, spec.help);
      actions.emplace_back(sub, spec.setup(*sub));
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "chorus: error: %s (see --help)\n", e.what());
    return 2;
  }

  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
    return 2;
  } catch (const chorus::UserError& e) {
    std::fprintf(stderr, "chorus: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chorus: internal error: %s\n", e.what());
    return 1;
  }
}
