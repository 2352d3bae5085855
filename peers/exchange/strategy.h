#pragma once
// Strategy: how a peer exchanges parameters (or gradients) with other peers between local
// training steps — the ring family (allreduce, kavg, hier), the elastic and gossip family
// (elastic-gossip, gossip, easgd), the leader family (lsgd), downpour, and `local` (none).
//
// The peer runtime calls a strategy on the training thread only:
//   before_update(step)  gradients of the step are in model.grads(); the optimizer has not
//                        run yet (all-reduce SGD averages gradients here);
//   after_update(step)   the optimizer step `step` (1-based) is done; the strategy may read
//                        and replace the parameters (averaging, elastic pulls, …);
//   on_view(view)        the membership view changed (before the next step);
//   finish()             the peer is leaving gracefully (last chance to hand over state).
// A strategy never blocks on a dead peer: every wait is bounded and re-checks membership
// (services.membership.is_member / view()), and the affected exchange is skipped or retried
// on the new view. Strategies receive only their own message-type range.
//
// Parameters live in backend memory; services.params gives a host copy (pull/push) so the
// same strategy code runs with the CPU and CUDA backends.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "foundations/backends/host_mirror.h"
#include "foundations/models/model.h"
#include "foundations/train/run_log.h"
#include "foundations/transport/transport.h"
#include "peers/membership/membership.h"
#include "topology/view.h"

namespace chorus {

// Every strategy's options; each strategy reads the ones it understands.
struct StrategyOptions {
  std::string name = "local";
  int k = 8;                 // kavg: average every k steps
  int k1 = 4, k2 = 16;       // hier: group average every k1, global every k2
  float alpha = 0.5f;        // elastic-gossip, easgd: elastic moving rate
  int tau = 0;               // exchange period in steps (elastic, gossip, easgd, lsgd, downpour);
                             // 0: the strategy's default, set by make_strategy (default_tau)
  float p = 0.0f;            // elastic-gossip: exchange with probability p per step instead
  std::string gossip = "pull";  // gossip: pull | push (push-sum)
  float lambda = 0.15f;      // lsgd pull strength
  float lambda_local = 0.1f, lambda_global = 0.05f;  // lsgd with groups
  int overlap = -1;          // staleness bound S of overlapped merges (-1: synchronous)
  bool dynamic_weights = false;
  std::string graph = "ring";   // topology graph for neighbour choice
  std::string groups = "host";  // grouping rule: host | label | size:N
};

// Bytes and seconds spent communicating, for the logs (bytes_sent, bytes_recv, comm_s,
// idle_s). Updated by strategies; read by the peer loop.
struct CommStats {
  std::atomic<std::uint64_t> bytes_sent{0}, bytes_recv{0};
  std::atomic<double> comm_s{0.0};  // time inside exchanges
  std::atomic<double> idle_s{0.0};  // time the training thread waited on communication
};

// A host copy of the model's flat parameter buffer (on host-memory backends, the buffer
// itself — no copies).
class HostParams {
 public:
  explicit HostParams(Model& model);
  // Makes host() equal the model's parameters (waits for the device).
  std::span<float> pull();
  // Writes host() back into the model's parameters (ordered before later compute).
  void push();
  std::span<float> host();
  Model& model() { return model_; }

 private:
  Model& model_;
  std::unique_ptr<HostMirror> mirror_;  // null on host-memory backends
};

struct PeerServices {
  Transport& transport;
  Membership& membership;
  Model& model;
  HostParams& params;
  RunLog& log;
  CommStats& stats;
  StrategyOptions options;
  std::uint64_t seed = 0;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  virtual void before_update(std::int64_t step) { (void)step; }
  virtual void after_update(std::int64_t step) = 0;
  virtual void on_view(const View& view) { (void)view; }
  // Before the first step of a swarm that starts together: waits, at most `timeout`, until the
  // other members of `view` can take part in exchanges (each has started its strategy and
  // greeted: the gossip and ring families). Returns whether they all could. Default: no wait.
  virtual bool wait_until_ready(const View& view, std::chrono::milliseconds timeout) {
    (void)view;
    (void)timeout;
    return true;
  }
  virtual void finish() {}
};

// Creates a strategy by name; throws UserError for an unknown name (listing the known ones).
// Fills in services.options.tau when it is 0 (default_tau).
std::unique_ptr<Strategy> make_strategy(PeerServices& services);
// Checks `options` before any peer starts, as make_strategy and the named strategy would when
// it is made: an unknown name (UserError listing the known ones), or an option the strategy
// reads that is out of range or names what does not exist (a graph, a grouping rule). Reads a
// graph file when `graph` names one; nothing else, and never blocks on the network.
void check_strategy_options(const StrategyOptions& options);
// The exchange period a strategy uses when --tau is not given: 1 for lsgd (it is accurate only
// when it elects and pulls every step: docs/gossip.md), 4 for the others.
int default_tau(const std::string& strategy);
std::vector<std::string> strategy_names();

}  // namespace chorus
