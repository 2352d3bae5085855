// `chorus peer`: one node of a swarm. Start it with the addresses of any members (--seeds);
// with none reachable it starts a new swarm alone.
#include <memory>

#include "peers/runtime/peer_runtime.h"
#include "tools/chorus/command.h"
#include "tools/chorus/train_options.h"

namespace chorus::tools {
namespace {

struct PeerOptions {
  PeerConfig config;
  TrainOptions train;
  std::string seeds;
  bool no_encrypt = false;
};

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

int run(PeerOptions& o) {
  PeerConfig& c = o.config;
  c.train = o.train.config;
  c.data_dir = o.train.data_dir;
  c.log_path = o.train.log_path;
  c.log_every = o.train.log_every;
  c.eval_every = o.train.eval_every;
  c.encrypt = !o.no_encrypt;
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
       add_strategy_options(app, c.strategy);
       add_train_options(app, o->train);
       o->train.log_every = 20;
       return [o] { return run(*o); };
     }});

}  // namespace
}  // namespace chorus::tools
