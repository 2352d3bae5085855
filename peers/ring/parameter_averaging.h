#pragma once
// ParameterAveraging: what the parameter-averaging ring strategies (kavg, hier) share — at each
// of the strategy's boundaries its collectives average the parameters; between boundaries the
// ring answers the other members (a member that lost a round asks for its result).
//
// Synchronous (--overlap -1): the collectives run on the training thread, in place.
// Overlapped (--overlap S >= 0): they run on the merge thread of MergingStrategy
// (merging_strategy.h) on the snapshot s taken at the boundary while training goes on; when
// the average x̄ is back, x ← x̄ + (x − s), so the sum of all members' parameters stays that of
// their local steps and S = 0 gives the synchronous result bit for bit. A boundary reached
// while the previous merge still runs waits for it (a member cannot skip a ring round: the
// others would wait for it). The session belongs to the merge thread while a merge is in
// flight and to the training thread otherwise; the training thread never serves the ring
// during a merge.
//
// Subclasses say which aligned steps are boundaries and run the collectives of one.
#include <cstdint>
#include <span>
#include <string>

#include "peers/exchange/exchange_options.h"
#include "peers/exchange/merging_strategy.h"
#include "peers/ring/ring_session.h"

namespace chorus {

class ParameterAveraging : public MergingStrategy {
 public:
  // A merge in flight runs on the session: it must end before the session does.
  ~ParameterAveraging() override { stop_merging(); }
  bool wait_until_ready(const View& view, std::chrono::milliseconds timeout) final {
    return session_.wait_until_ready(view, timeout);
  }

 protected:
  // `groups`: the group rule of group collectives (hier).
  ParameterAveraging(PeerServices& services, const MergeOptions& merge, const std::string& groups = "host");

  // Whether the collectives run at `aligned_step` (RingSession::aligned of the local step).
  virtual bool boundary(std::int64_t aligned_step) const = 0;
  // Runs the collectives of the boundary at local step `step` on `x` (the parameters, or the
  // merge's snapshot); returns whether `x` was averaged. Training or merge thread.
  virtual bool average(std::span<float> x, std::int64_t step) = 0;

  RingSession& session() { return session_; }

 private:
  void every_step(std::int64_t step) final { session_.saw_step(step); }
  bool due(std::int64_t step) final { return boundary(session_.aligned(step)); }
  bool exchange(std::int64_t step, std::span<float> x) final;
  void between_points() final { session_.serve(); }
  void finished() final { session_.serve(std::chrono::milliseconds(200)); }

  RingSession session_;
};

}  // namespace chorus
