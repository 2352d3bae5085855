#include "tools/chorus/peer_options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "foundations/base/error.h"
#include "foundations/base/option_set.h"
#include "foundations/transport/address.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/membership/membership.h"
#include "tools/chorus/list_option.h"
#include "tools/chorus/option_checks.h"

namespace chorus::tools {

void add_strategy_options(CLI::App& app, StrategyArguments& arguments) {
  const auto& registry = strategy_registry();
  app.add_option("--strategy", arguments.name, "How peers exchange: " + registry.joined_names(", ") + " (see below)")
      ->capture_default_str();

  // Every option any strategy declares, once: (spec, the strategies taking it with their
  // defaults), in the order first declared.
  struct Shared {
    OptionSet::Spec spec;
    std::vector<std::pair<std::string, std::string>> defaults;  // strategy, default as text
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
    // "[elastic-gossip, gossip: 4; lsgd: 1]": the strategies taking it, grouped by default.
    std::vector<std::pair<std::string, std::vector<std::string>>> by_default;
    for (const auto& [strategy, value] : s.defaults) {
      auto it = std::find_if(by_default.begin(), by_default.end(), [&](const auto& d) { return d.first == value; });
      if (it == by_default.end()) {
        by_default.push_back({value, {strategy}});
      } else {
        it->second.push_back(strategy);
      }
    }
    std::string which;
    for (const auto& [value, strategies] : by_default)
      which += fmt::format("{}{}{}", which.empty() ? "" : "; ", fmt::join(strategies, ", "),
                           s.spec.type == OptionSet::Type::flag ? "" : ": " + value);
    const std::string help = s.spec.help + " [" + which + "]";
    const std::string name = s.spec.name;
    // The chosen strategy sets the values, and refuses a flag it does not take
    // (strategy_settings, in check_peer_options).
    if (s.spec.type == OptionSet::Type::flag) {
      app.add_flag_callback("--" + name, [&arguments, name] { arguments.options.emplace_back(name, ""); }, help);
    } else {
      app.add_option_function<std::string>(
             "--" + name, [&arguments, name](const std::string& value) { arguments.options.emplace_back(name, value); },
             help)
          ->type_name(s.spec.value_name);
    }
  }
}

void add_peer_options(CLI::App& app, PeerOptions& o) {
  PeerConfig& c = o.config;
  app.add_option("--listen", c.listen, "Address to bind (tcp://HOST:PORT; port * picks one)")
      ->capture_default_str();
  comma_list(app.add_option("--seeds", o.seeds,
                            "Comma-separated addresses of swarm members to join through (tcp://HOST:PORT,…)"));
  app.add_option("--key", c.key_path,
                 "Swarm key file (chorus keygen); without one the peer runs on loopback only");
  app.add_flag("--no-encrypt", o.no_encrypt, "With --key: authenticate only, do not encrypt");
  app.add_option("--checkpoint", c.checkpoint_dir,
                 "Checkpoint directory (identity and state); a restart resumes from it");
  app.add_option("--checkpoint-every", c.checkpoint_every, "Steps between checkpoints (0: only on exit)")
      ->check(at_least(std::int64_t{0}))
      ->capture_default_str();
  app.add_option("--membership", c.membership, "Failure-detection timings: loopback, lan or wan")
      ->check(checked_by([](const std::string& name) { MembershipTimings::preset(name); }))
      ->capture_default_str();
  app.add_option("--group", c.group, "Group label for hierarchical strategies");
  app.add_option("--min-peers", c.min_peers,
                 "Wait until the swarm has this many members before the first step")
      ->check(at_least(1))
      ->capture_default_str();
  app.add_option("--min-peers-wait", c.min_peers_wait_s, "Longest wait for --min-peers, seconds")
      ->check(at_least(0.0))
      ->capture_default_str();
  app.add_option("--max-steps", c.max_steps, "Stop after this many steps (0: no limit)")
      ->check(at_least(std::int64_t{0}));
  app.add_option("--slowdown", c.slowdown, "Make each step's computation take FACTOR times its CPU time, as a slower machine would (fault "
                 "injection; waits on the network, and time the process did not run, are not stretched)")
      ->check(in_range(1.0, 1e6));
  app.add_option("--trainer-nice", c.trainer_nice,
                 "Run the training thread at this nice value (0-19; 0: unchanged) so that communication "
                 "threads preempt it: use it when peers share cores with each other (chorus swarm "
                 "sets 19), so an overlapped merge does not wait for the CPU")
      ->capture_default_str()
      ->check(CLI::Range(0, 19));
  add_strategy_options(app, o.strategy);
  add_train_options(app, o.train);
  o.train.log_every = 20;
}

void check_peer_options(const PeerOptions& o) {
  const PeerConfig& c = o.config;
  const bool keyed = !c.key_path.empty();
  const auto check = [&](const std::string& address, AddressUse use, const char* option) {
    check_address(address, use, option);
    if (!keyed && !is_on_this_host(address))
      throw UserError(fmt::format("{} {}: not on this host, and no --key is given: without a swarm key peers talk "
                                  "unauthenticated on loopback only (create one with `chorus keygen --out "
                                  "swarm.key` and give it to every peer with --key)",
                                  option, address));
  };
  check(c.listen, AddressUse::bind, "--listen");
  for (const auto& seed : o.seeds) check(seed, AddressUse::connect, "--seeds");
  check_train_options(o.train);
  strategy_settings(o.strategy.name, o.strategy.options);  // UserError for a bad name or option
  check_data(o.train);
}

PeerConfig peer_config(const PeerOptions& o) {
  PeerConfig c = o.config;
  c.train = o.train.config;
  c.data_dir = o.train.data_dir;
  c.log_path = o.train.log_path;
  c.log_every = o.train.log_every;
  c.eval_every = o.train.eval_every;
  c.encrypt = !o.no_encrypt;
  c.seeds = o.seeds;
  c.strategy = o.strategy.name;
  c.strategy_options = o.strategy.options;
  return c;
}

void check_peer_arguments(const std::vector<std::string>& args) {
  CLI::App app{"chorus peer"};
  PeerOptions options;
  add_peer_options(app, options);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::Success&) {
    throw UserError("--help reaches no peer here; `chorus peer --help` lists the options peers take");
  } catch (const CLI::ParseError& e) {
    throw UserError(fmt::format("{} (see chorus peer --help)", e.what()));
  }
  check_peer_options(options);
}

}  // namespace chorus::tools
