#pragma once
// OverlappedMerge: a parameter merge (an average, an elastic pull, a leader pull, a store
// fetch) computed on a communication thread while the training thread keeps taking local steps
// ("asynchronous SGD without gradient delay"). Any strategy that replaces its parameters by a
// merged value can run the merge through it.
//
// Protocol. begin(params, step, merge) takes the snapshot s = x and hands a copy of it to
// `merge` on the merge thread, which turns it into the merged value x̄ in place (blocking as
// long as it needs, every wait of its own bounded). The training thread goes on stepping and
// calls poll(params, step) after every step; once x̄ is back, poll applies
//     x <- x̄ + (x - s)
// so the local steps taken meanwhile are kept and no gradient is ever applied to parameters it
// was not computed on. When no step was taken since begin, x <- x̄ exactly (bit for bit).
//
// Staleness bound S (the --overlap value):
//   S >= 0  a merge still running after S local steps since its begin makes poll wait for it;
//           S = 0 waits at once, which gives the synchronous result bit for bit.
//   S < 0   synchronous: begin runs the merge inline on the calling thread and applies it.
// A begin while a merge is still in flight first waits for that one and applies it, so at most
// one merge runs at a time and merges apply in order.
//
// Accounting (CommStats): the time the training thread waits for a merge (in begin, poll,
// finish, or the whole inline merge when synchronous) is added to idle_s; the time the merge
// function runs is added to comm_s.
//
// Threading: begin/poll/finish/in_flight are called from one thread (the training thread); the
// merge function runs on the merge thread, never two at once. `params` spans must stay valid
// only for the duration of each call. The destructor waits for a merge in flight (bounded by
// the merge function's own timeouts) and discards its result.
// Errors: an exception thrown by a merge function is rethrown by the begin/poll/finish that
// would have applied its result; a merge function returning false leaves x unchanged.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "peers/exchange/comm_stats.h"

namespace chorus {

class OverlappedMerge {
 public:
  // Turns the snapshot into the merged value in place; returns false when nothing was merged
  // (e.g. the partner left), leaving the parameters as they are.
  using MergeFn = std::function<bool(std::vector<float>& value)>;

  OverlappedMerge(int staleness, CommStats& stats);
  ~OverlappedMerge();
  OverlappedMerge(const OverlappedMerge&) = delete;
  OverlappedMerge& operator=(const OverlappedMerge&) = delete;

  int staleness() const { return staleness_; }
  bool synchronous() const { return staleness_ < 0; }
  bool in_flight() const;

  // Starts a merge of `params`, taken after step `step`. Returns whether `params` changed
  // (a previous merge applied, or the inline merge when synchronous).
  bool begin(std::span<float> params, std::int64_t step, MergeFn merge);
  // After step `step`: applies a finished merge; waits for the one in flight when it began S
  // or more steps ago. Returns whether `params` changed.
  bool poll(std::span<float> params, std::int64_t step);
  // Waits for the merge in flight, if any, and applies it. Returns whether `params` changed.
  bool finish(std::span<float> params);

 private:
  void worker();
  bool wait_and_apply(std::span<float> params);
  bool apply(std::span<float> params);

  const int staleness_;
  CommStats& stats_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stopping_ = false;
  bool pending_ = false;  // a merge handed to the worker and not yet applied
  bool done_ = false;     // the worker finished it
  bool merged_ = false;   // its merge function returned true
  std::exception_ptr error_;
  MergeFn fn_;
  std::int64_t begin_step_ = 0;
  std::int64_t last_step_ = 0;  // the latest step seen by begin/poll
  std::vector<float> snapshot_;  // s
  std::vector<float> value_;     // s, turned into x̄ by the worker
};

}  // namespace chorus
