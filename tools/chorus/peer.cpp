// `chorus peer`: one node of a swarm. Start it with the addresses of any members (--seeds);
// with none reachable it starts a new swarm alone.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>

#include "foundations/base/option_set.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/runtime/peer_runtime.h"
#include "tools/chorus/command.h"
#include "tools/chorus/train_options.h"

namespace chorus::tools {
namespace {


// The flags of every registered strategy (strategy_registry.h), each added once: its help
// names the strategies that take it and their defaults. After parsing, the flags given are
// collected into `chosen` (name, value) for the chosen strategy to set — and to refuse when
// it has no such option.
struct StrategyFlags {
  std::string name = "local";
  std::vector<std::pair<std::string, std::string>> given;
  std::vector<std::pair<std::string, std::shared_ptr<std::string>>> values;  // flag name, parsed text
  std::vector<std::pair<std::string, std::shared_ptr<bool>>> switches;       // boolean flags
  void collect(const CLI::App& app) {
    given.clear();
    for (const auto& [flag, value] : values)
      if (app.count("--" + flag) > 0) given.emplace_back(flag, *value);
    for (const auto& [flag, on] : switches)
      if (app.count("--" + flag) > 0) given.emplace_back(flag, "");
  }
};

void add_strategy_options(CLI::App& app, StrategyFlags& flags) {
  const auto& registry = strategy_registry();
  std::string about = "How peers exchange: " + registry.joined_names(", ") + " (see below)";
  app.add_option("--strategy", flags.name, about)->capture_default_str();

  // Option name -> (spec, strategies taking it with their defaults), in first-declared order.
  struct Shared {
    OptionSet::Spec spec;
    std::vector<std::pair<std::string, std::string>> defaults;  // strategy, default text
  };
  std::vector<Shared> shared;
  std::string footer = "Strategies (--strategy):\n";
  for (const StrategyRecord& r : registry.records()) {
    const auto settings = r.settings();
    std::string own;
    for (const auto& spec : settings->options().specs()) {
      own += (own.empty() ? "" : " ") + ("--" + spec.name);
      auto it = std::find_if(shared.begin(), shared.end(), [&](const Shared& s) { return s.spec.name == spec.name; });
      if (it == shared.end()) {
        shared.push_back({spec, {}});
        it = shared.end() - 1;
      }
      it->defaults.emplace_back(r.name, spec.default_text);
    }
    footer += fmt::format("  {:<15} {}{}\n", r.name, r.description, own.empty() ? "" : "; options: " + own);
  }
  app.footer(footer);
  for (const Shared& s : shared) {
    // "elastic-gossip, gossip: 4; lsgd: 1": strategies grouped by their default.
    std::vector<std::pair<std::string, std::vector<std::string>>> by_default;
    for (const auto& [strategy, value] : s.defaults) {
      auto it = std::find_if(by_default.begin(), by_default.end(), [&](const auto& d) { return d.first == value; });
      if (it == by_default.end()) by_default.push_back({value, {strategy}});
      else it->second.push_back(strategy);
    }
    std::string which;
    for (const auto& [value, strategies] : by_default)
      which += fmt::format("{}{}{}", which.empty() ? "" : "; ", fmt::join(strategies, ", "),
                           s.spec.type == OptionSet::Type::flag ? "" : ": " + value);
    const std::string help = s.spec.help + " [" + which + "]";
    if (s.spec.type == OptionSet::Type::flag) {
      auto on = std::make_shared<bool>(false);
      app.add_flag("--" + s.spec.name, *on, help);
      flags.switches.emplace_back(s.spec.name, on);
    } else {
      auto value = std::make_shared<std::string>();
      app.add_option("--" + s.spec.name, *value, help)->type_name(s.spec.value_name);
      flags.values.emplace_back(s.spec.name, value);
    }
  }
}

struct PeerOptions {
  PeerConfig config;
  StrategyFlags strategy;
  TrainOptions train;
  std::string seeds;
  bool no_encrypt = false;
};

int run(PeerOptions& o) {
  PeerConfig& c = o.config;
  c.train = o.train.config;
  c.data_dir = o.train.data_dir;
  c.log_path = o.train.log_path;
  c.log_every = o.train.log_every;
  c.eval_every = o.train.eval_every;
  c.encrypt = !o.no_encrypt;
  c.strategy = o.strategy.name;
  c.strategy_options = o.strategy.given;
  c.seeds.clear();
  std::string rest = o.seeds;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string seed = rest.substr(0, comma);
    if (!seed.empty()) c.seeds.push_back(seed);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  return run_peer(c);
}

const bool registered = register_command(
    {"peer", "Run one peer of a swarm: join through seeds, train, exchange, checkpoint",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<PeerOptions>();
       PeerConfig& c = o->config;
       app.add_option("--listen", c.listen, "Address to bind (tcp://HOST:PORT; port * picks one)")
           ->capture_default_str();
       app.add_option("--seeds", o->seeds, "Comma-separated addresses of swarm members to join through");
       app.add_option("--key", c.key_path,
                      "Swarm key file (chorus keygen); without one the peer runs on loopback only");
       app.add_flag("--no-encrypt", o->no_encrypt, "With --key: authenticate only, do not encrypt");
       app.add_option("--checkpoint", c.checkpoint_dir,
                      "Checkpoint directory (identity and state); a restart resumes from it");
       app.add_option("--checkpoint-every", c.checkpoint_every, "Steps between checkpoints")
           ->capture_default_str();
       app.add_option("--membership", c.membership, "Failure-detection timings: loopback, lan or wan")
           ->capture_default_str();
       app.add_option("--group", c.group, "Group label for hierarchical strategies");
       app.add_option("--min-peers", c.min_peers,
                      "Wait until the swarm has this many members before the first step")
           ->capture_default_str();
       app.add_option("--min-peers-wait", c.min_peers_wait_s, "Longest wait for --min-peers, seconds")
           ->capture_default_str();
       app.add_option("--max-steps", c.max_steps, "Stop after this many steps (0: no limit)");
       app.add_option("--slowdown", c.slowdown, "Make each step's computation take FACTOR times its CPU time, as a slower machine would (fault "
                      "injection; waits on the network, and time the process did not run, are not stretched)");
       app.add_option("--trainer-nice", c.trainer_nice,
                      "Run the training thread at this nice value (0-19; 0: unchanged) so that communication "
                      "threads preempt it: use it when peers share cores with each other (chorus swarm "
                      "sets 19), so an overlapped merge does not wait for the CPU")
           ->capture_default_str()
           ->check(CLI::Range(0, 19));
       add_strategy_options(app, o->strategy);
       add_train_options(app, o->train);
       o->train.log_every = 20;
       return [o, &app] {
         o->strategy.collect(app);
         return run(*o);
       };
     }});

}  // namespace
}  // namespace chorus::tools
