#pragma once
// Strategy: how a peer exchanges parameters (or gradients) with other peers between local
// training steps. Each strategy is one file that registers itself (strategy_registry.h).
//
// The peer calls a strategy on the training thread only:
//   before_update(step)  gradients of the step are in model.grads(); the optimizer has not
//                        run yet (all-reduce SGD averages gradients here);
//   after_update(step)   the optimizer step `step` (1-based) is done; the strategy may read
//                        and replace the parameters (averaging, elastic pulls, …);
//   on_view(view)        the membership view changed (before the next step);
//   finish()             the peer is leaving gracefully (last chance to hand over state).
// A strategy never blocks on a dead peer: every wait is bounded (ExchangeTimings) and re-checks
// membership (services.membership.is_member / view()), and the affected exchange is skipped or
// retried on the new view. Strategies receive only their own message-type range.
//
// Parameters live in backend memory; services.params gives a host copy (pull/push) so the
// same strategy code runs with the CPU and CUDA backends.
#include <chrono>
#include <cstdint>
#include <string>

#include "foundations/models/model.h"
#include "foundations/train/run_log.h"
#include "foundations/transport/transport.h"
#include "peers/exchange/comm_stats.h"
#include "peers/exchange/exchange_timings.h"
#include "peers/exchange/host_copy.h"
#include "peers/membership/membership.h"
#include "topology/view.h"

namespace chorus {

// What a strategy works with: the peer's transport, membership, model and its host copy, log
// and statistics. All outlive the strategy.
struct PeerServices {
  Transport& transport;
  Membership& membership;
  Model& model;
  HostParams& params;
  RunLog& log;  // written by the training thread only (strategies queue notes from others)
  CommStats& stats;
  std::uint64_t seed = 0;
  ExchangeTimings timings{};
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual void before_update(std::int64_t step) { (void)step; }
  virtual void after_update(std::int64_t step) = 0;
  virtual void on_view(const View& view) { (void)view; }
  // Before the first step of a swarm that starts together: waits, at most `timeout`, until the
  // other members of `view` can take part in exchanges (each runs its strategy: readiness.h).
  // Returns whether they all could. Default: no wait.
  virtual bool wait_until_ready(const View& view, std::chrono::milliseconds timeout) {
    (void)view;
    (void)timeout;
    return true;
  }
  virtual void finish() {}
};

}  // namespace chorus
