#pragma once
// The serverless peer: one process of a swarm. It joins through any seed (or starts a swarm
// alone), takes its data shard from the membership view, pulls the current training state
// from a live member when it joins mid-training (or resumes from its own checkpoint), trains,
// lets its strategy exchange with the other peers between steps, checkpoints atomically every
// N steps and on exit, and leaves gracefully on SIGINT/SIGTERM.
//
// Blocking: run_peer() returns when training is done (`epochs` over its shard), after
// max_steps, or after a stop signal; every wait inside is bounded (see membership.h,
// strategy.h). Errors a user can fix are UserErrors (exit 2).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "foundations/train/trainer.h"

namespace chorus {

struct PeerConfig {
  std::string listen = "tcp://127.0.0.1:7000";
  std::vector<std::string> seeds;
  std::string key_path;            // empty: no key (loopback only, unauthenticated)
  bool encrypt = true;             // with a key: encrypt, or authenticate only
  std::string checkpoint_dir;      // empty: no checkpoints, a fresh identity every start
  std::int64_t checkpoint_every = 200;
  std::string membership = "loopback";  // timing preset: loopback | lan | wan
  std::string group;               // --group label (topology groups)
  int min_peers = 1;               // wait for a view this large before the first step…
  double min_peers_wait_s = 30;    // …but no longer than this

  TrainConfig train;
  std::string data_dir;
  std::string log_path;
  int log_every = 20;
  int eval_every = 0;              // 0: at the end of each epoch
  std::int64_t max_steps = 0;      // 0: no limit
  double slowdown = 1.0;           // >1: sleep so each step computes this many times as long
  // 0..19: the training thread's nice value once training starts (the communication threads
  // keep the process's own), so that on cores shared with other peers a merge's threads
  // preempt training instead of waiting for a time slice. 0: unchanged.
  int trainer_nice = 0;
  std::string strategy = "local";  // a registered strategy (strategy_registry.h)
  // Its options as given: name without dashes, value as text ("" for a flag).
  std::vector<std::pair<std::string, std::string>> strategy_options;
};

// Runs the peer; returns the process exit code.
int run_peer(const PeerConfig& config);

}  // namespace chorus
