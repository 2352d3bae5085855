#pragma once
// MergingStrategy: the one flow every strategy that merges parameters runs after each
// optimizer step — the ring family's parameter averages (kavg, hier) and the gossip, elastic
// and leader families alike — around an OverlappedMerge (overlapped_merge.h, --overlap S):
//
//   every_step(step)
//   nothing in flight, nothing queued, no exchange point: between_points() (and the parameters
//     are not even copied from the backend)
//   else: pull the parameters; apply a finished merge (or wait for one S steps old); apply what
//     other threads queued (late answers of earlier exchanges); and at an exchange point —
//     asked again, since an applied merge may have moved the strategy's step count — start the
//     next merge (exchange: inline when synchronous), unless the previous one still runs:
//     then wait for it first (Busy::wait: a ring member cannot skip a round the others run)
//     or skip this point (Busy::skip: merges never queue up; a merge of a snapshot taken
//     before the previous one is applied would apply that one twice).
//   the parameters go back to the backend only when they changed; then after_step().
//
// finish() waits for the merge in flight, applies it and what is queued, lets the strategy
// say its last words (leaving) and then finished().
//
// Threads: after_update, finish and every hook run on the training thread, except where a
// hook says otherwise; merge functions run on the merge thread (overlapped_merge.h).
#include <cstdint>
#include <memory>
#include <span>

#include "peers/exchange/comm_stats.h"
#include "peers/exchange/host_copy.h"
#include "peers/exchange/overlapped_merge.h"
#include "peers/exchange/strategy.h"

namespace chorus {

class MergingStrategy : public Strategy {
 public:
  void after_update(std::int64_t step) final;
  void finish() final;

 protected:
  // What an exchange point does while the previous merge still runs.
  enum class Busy { wait, skip };
  MergingStrategy(HostParams& params, int staleness, CommStats& stats, Busy busy);

  OverlappedMerge& merge() { return *merge_; }
  // Joins the merge thread (a merge in flight finishes, its result is discarded); for
  // destructors that must stop it before the state its merge functions use goes away.
  void stop_merging() { merge_.reset(); }

  // First thing after every optimizer step.
  virtual void every_step(std::int64_t step) { (void)step; }
  // Whether step `step` is an exchange point.
  virtual bool due(std::int64_t step) = 0;
  // The exchange at an exchange point: merges inline, or begins an overlapped merge. Returns
  // whether `params` changed.
  virtual bool exchange(std::int64_t step, std::span<float> params) = 0;
  // Busy::skip: an exchange point reached while the previous merge runs (partners that wait
  // for this peer are told here). Returns whether `params` changed.
  virtual bool skip(std::int64_t step, std::span<float> params) {
    (void)step;
    (void)params;
    return false;
  }
  // Updates other threads queued for the parameters: whether there are any (any thread may
  // have queued them), and applying them. Returns whether `params` changed.
  virtual bool has_queued() { return false; }
  virtual bool apply_queued(std::span<float> params) {
    (void)params;
    return false;
  }
  // A step with nothing to merge (the ring family answers other members here).
  virtual void between_points() {}
  // Last thing after every optimizer step.
  virtual void after_step() {}
  // In finish(), after the last merge is applied: last words. Returns whether `params` changed.
  virtual bool leaving(std::span<float> params) {
    (void)params;
    return false;
  }
  // At the very end of finish().
  virtual void finished() {}

 private:
  HostParams& params_;
  const Busy busy_;
  std::unique_ptr<OverlappedMerge> merge_;
  bool finished_ = false;
};

}  // namespace chorus
