#include "tools/chorus/peer_options.h"

#include <fmt/format.h>

#include "foundations/base/error.h"
#include "foundations/transport/address.h"
#include "peers/membership/membership.h"
#include "tools/chorus/list_option.h"
#include "tools/chorus/option_checks.h"

namespace chorus::tools {

void add_strategy_options(CLI::App& app, StrategyOptions& s) {
  app.add_option("--strategy", s.name,
                 "How peers exchange: local, allreduce, kavg, hier, elastic-gossip, gossip, "
                 "easgd, lsgd, downpour")
      ->capture_default_str();
  app.add_option("--k", s.k, "kavg: average parameters every K steps")->capture_default_str();
  app.add_option("--k1", s.k1, "hier: average within the group every K1 steps")
      ->capture_default_str();
  app.add_option("--k2", s.k2, "hier: average across all peers every K2 steps")
      ->capture_default_str();
  app.add_option("--alpha", s.alpha, "elastic-gossip, easgd: moving rate")->capture_default_str();
  app.add_option("--tau", s.tau,
                 "Steps between exchanges (elastic-gossip, gossip, easgd, downpour: default 4; lsgd: "
                 "default 1; --tau 4 sends about a third of the bytes, for about 0.4 points of accuracy)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--p", s.p, "elastic-gossip: exchange with probability P per step instead of every tau");
  app.add_option("--gossip", s.gossip, "gossip: pull or push (push-sum)")->capture_default_str();
  app.add_option("--lambda", s.lambda, "lsgd: pull strength towards the leader")
      ->capture_default_str();
  app.add_option("--lambda-local", s.lambda_local, "lsgd with groups: pull towards the group leader")
      ->capture_default_str();
  app.add_option("--lambda-global", s.lambda_global, "lsgd with groups: pull towards the global leader")
      ->capture_default_str();
  app.add_option("--overlap", s.overlap,
                 "Overlap parameter merges with up to S local steps of training (-1: synchronous; every "
                 "strategy that averages parameters, not allreduce)")
      ->capture_default_str();
  app.add_flag("--dynamic-weights", s.dynamic_weights,
               "Weight each peer's contribution by how current it is");
  app.add_option("--graph", s.graph, "Topology graph for choosing partners (ring, complete, random, exponential, torus, or a file)")
      ->capture_default_str();
  app.add_option("--groups", s.groups, "How peers are grouped: host, label, or size:N")
      ->capture_default_str();
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
  add_strategy_options(app, c.strategy);
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
  check_strategy_options(c.strategy);
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
