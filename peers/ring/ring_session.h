#pragma once
// RingSession: what the ring-family strategies (allreduce, kavg, hier) share — one
// RingAllreduce on the peer's transport; the members of a collective from the membership view
// (all members in hash order, or this peer's group from the topology module); the rounds; the
// statistics and the log lines.
//
// Rounds: a strategy averages at steps that are multiples of its period (1, K, K1 or K2) and
// names each collective by step / period, so members that started together agree. A member
// whose step count differs (it joined through state transfer while the others kept training)
// is told the others' round by the collective (CollectiveStatus::skipped) and joins that round
// at once with the same values; the session keeps the difference as a step offset, which the
// strategies add to their step (aligned()) before deciding whether and which collective a step
// runs — so all later boundaries line up, for every scope.
//
// Blocking: average() blocks its caller until the round is done, skipped or failed (bounded by
// `timeout`, a last resort: a round aborts as soon as one of its members is suspected, or its
// left neighbour falls silent for many times the usual attempt, and is retried without it). A failed round
// leaves the values unchanged and is logged; training goes on.
// Dynamic weights (--dynamic-weights): this member contributes with the weight
// currency(behind, since_start) of dynamic_weights.h, the average being Σ w_i x_i / Σ w_i over
// the members. `behind` is how many steps the member's values were behind the others' when it
// last learned their round (skipped rounds: it resumed from an old checkpoint, or was away),
// until its parameters have been averaged once; `since_start` its local steps since this
// process started (saw_step). So a member returning with stale parameters barely moves the
// others and is pulled to them; at a swarm's start every member weighs the same.
// Threading: one thread at a time — the training thread, or the merge thread of an overlapped
// merge while the training thread leaves the session alone (ParameterAveraging hands it over);
// aligned() may be read from any thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "peers/exchange/strategy.h"
#include "peers/ring/ring_allreduce.h"
#include "topology/groups.h"

namespace chorus {

// The members a collective may wait on: the view without its suspects (a suspect may be frozen
// or gone; waiting for it would hold the round for membership's whole detection time) and
// without members whose strategy does not run yet (a restarted or joining member loading its
// state), always with `self`. The view number is kept: members that know the same facts
// compute the same members.
View collective_view(const Membership& membership, PeerId self);
// The members of a collective over all of `view`, in hash order.
RingView ring_view(const View& view);
// The members of the group holding `self` (empty when `self` is not in the view).
RingView group_ring_view(const View& view, const GroupRule& rule, PeerId self, std::string* group_name = nullptr);

class RingSession {
 public:
  // global: all members; group: this peer's group; resync: all members, a collective of its
  // own (for parameters, beside a global collective of gradients with the same round).
  enum class Scope { global, group, resync };

  // Who accounts the time of a collective in CommStats: the session (its caller waits on it:
  // comm_s and idle_s), or the caller (an OverlappedMerge running it on its merge thread adds
  // comm_s, and idle_s only for the time the trainer waits).
  enum class Timing { counted_here, counted_by_caller };

  struct Config {
    std::string groups = "host";   // the group rule of Scope::group (topology/groups.h)
    bool dynamic_weights = false;  // weigh this member by its currency (see above)
    Timing timing = Timing::counted_here;
    std::chrono::milliseconds timeout = std::chrono::seconds(60);  // longest wait of one collective
  };
  RingSession(PeerServices& services, const Config& config);

  // This peer's step as the swarm counts it (the local step plus the offset learned from
  // skipped rounds).
  std::int64_t aligned(std::int64_t step) const { return step + step_offset_.load(); }
  // Averages `data` over the scope's members for the collective of `step`, whose aligned
  // step must be a multiple of `period`: round aligned(step) / period.
  // `values` says whether `data` holds parameters (a done round makes them current: no longer
  // behind) or gradients.
  enum class Values { parameters, gradients };
  CollectiveOutcome average(std::span<float> data, Scope scope, std::int64_t step, std::int64_t period,
                            Values values = Values::parameters);
  // Notes that this member is at local step `step` (any thread; once per step is enough).
  void saw_step(std::int64_t step);
  // Answers other members between collectives (every step), or for `for_at_least` when
  // leaving (a member that lost the last round may still ask for its result).
  void serve(std::chrono::milliseconds for_at_least = std::chrono::milliseconds(0)) { ring_.serve(for_at_least); }
  // Strategy::wait_until_ready for the ring family: serves the ring until each member of `view`
  // still in the membership runs its strategy (readiness.h: so it takes part in the first
  // collective at the same step), or `timeout`.
  bool wait_until_ready(const View& view, std::chrono::milliseconds timeout);

 private:
  PeerServices& services_;
  RingAllreduce ring_;
  GroupRule rule_;
  bool dynamic_weights_;
  Timing timing_;
  std::chrono::milliseconds timeout_;
  std::atomic<std::int64_t> step_offset_{0};  // the others' step minus ours
  // This member's weight in the next collective (1 without --dynamic-weights).
  double contribution_weight() const;
  std::int64_t behind_ = 0;                   // steps skipped since the parameters were last averaged
  std::atomic<std::int64_t> first_step_{-1};  // the first local step seen (saw_step)
  std::atomic<std::int64_t> last_step_{-1};   // the latest
};

}  // namespace chorus
