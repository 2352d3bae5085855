// OverlappedMerge (overlapped_merge.h): one merge thread per instance, started on construction when the
// staleness bound is >= 0.
#include <algorithm>
#include <chrono>

#include "foundations/base/error.h"
#include "peers/exchange/overlapped_merge.h"

namespace chorus {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void add(std::atomic<double>& counter, double v) {
  double cur = counter.load();
  while (!counter.compare_exchange_weak(cur, cur + v)) {
  }
}

}  // namespace

OverlappedMerge::OverlappedMerge(int staleness, CommStats& stats) : staleness_(staleness), stats_(stats) {
  if (staleness_ >= 0) thread_ = std::thread([this] { worker(); });
}

OverlappedMerge::~OverlappedMerge() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool OverlappedMerge::in_flight() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

void OverlappedMerge::worker() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || (pending_ && !done_); });
    if (pending_ && !done_) {
      MergeFn fn = fn_;
      lock.unlock();
      const auto t0 = Clock::now();
      bool merged = false;
      std::exception_ptr error;
      try {
        merged = fn(value_);
      } catch (...) {
        error = std::current_exception();
      }
      add(stats_.comm_s, seconds_since(t0));
      lock.lock();
      merged_ = merged;
      error_ = error;
      done_ = true;
      cv_.notify_all();
      continue;
    }
    if (stopping_) return;
  }
}

bool OverlappedMerge::apply(std::span<float> params) {
  // Called with the merge done and the lock not held by the worker (it is idle).
  pending_ = false;
  done_ = false;
  fn_ = nullptr;
  if (error_) {
    auto e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  if (!merged_) return false;
  CHORUS_CHECK(params.size() == snapshot_.size() && value_.size() == snapshot_.size(),
               "overlapped merge: the parameter count changed during a merge");
  // x <- x̄ + (x - s); an element not stepped since the snapshot takes x̄ exactly.
  const float* s = snapshot_.data();
  const float* m = value_.data();
  float* x = params.data();
  for (std::size_t k = 0; k < params.size(); ++k) x[k] = x[k] == s[k] ? m[k] : m[k] + (x[k] - s[k]);
  return true;
}

bool OverlappedMerge::wait_and_apply(std::span<float> params) {
  std::unique_lock lock(mutex_);
  if (!pending_) return false;
  if (!done_) {
    const auto t0 = Clock::now();
    cv_.wait(lock, [&] { return done_; });
    add(stats_.idle_s, seconds_since(t0));
  }
  return apply(params);
}

bool OverlappedMerge::begin(std::span<float> params, std::int64_t step, MergeFn merge) {
  if (synchronous()) {
    const auto t0 = Clock::now();
    std::vector<float> value(params.begin(), params.end());
    const bool merged = merge(value);
    const double dt = seconds_since(t0);
    add(stats_.comm_s, dt);
    add(stats_.idle_s, dt);
    if (!merged) return false;
    CHORUS_CHECK(value.size() == params.size(), "overlapped merge: a merge changed the parameter count");
    std::copy(value.begin(), value.end(), params.begin());
    return true;
  }
  const bool changed = wait_and_apply(params);
  {
    std::lock_guard lock(mutex_);
    snapshot_.assign(params.begin(), params.end());
    value_ = snapshot_;
    fn_ = std::move(merge);
    begin_step_ = step;
    last_step_ = step;
    merged_ = false;
    done_ = false;
    pending_ = true;
  }
  cv_.notify_all();
  return poll(params, step) || changed;
}

bool OverlappedMerge::poll(std::span<float> params, std::int64_t step) {
  if (synchronous()) return false;
  std::unique_lock lock(mutex_);
  last_step_ = std::max(last_step_, step);
  if (!pending_) return false;
  if (done_) return apply(params);
  if (last_step_ - begin_step_ < staleness_) return false;
  lock.unlock();
  return wait_and_apply(params);
}

bool OverlappedMerge::finish(std::span<float> params) {
  if (synchronous()) return false;
  return wait_and_apply(params);
}

}  // namespace chorus
