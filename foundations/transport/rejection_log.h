#pragma once
// RejectionLog: counts refused frames per reason and logs each (sender, reason) pair once.
//
// A flood of bad frames costs one counter increment each and at most one log line per distinct
// (sender, reason); the set of pairs already logged is bounded (kMaxLogged), after which one
// line says that further rejections are only counted. Thread-safe.
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_set>

#include "foundations/wire/rejection.h"

namespace chorus {

class RejectionLog {
 public:
  static constexpr std::size_t kMaxLogged = 256;
  using Sink = std::function<void(const std::string&)>;

  RejectionLog(Sink sink, std::string self);

  // `sender` is what the once-per-sender rule keys on: the authenticated sender address once a
  // frame has verified, else the connection it came in on (what a frame claims before it
  // verifies is attacker-controlled and would let a flood of made-up names flood the log).
  // `who` is how the line names the sender.
  void reject(RejectReason reason, const std::string& sender, const std::string& who, const std::string& detail);
  // Counts without logging (for refusals the caller logs in its own way).
  void count(RejectReason reason) { counts_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed); }
  RejectionCounts counts() const;
  void log(const std::string& line) const { sink_(line); }

 private:
  Sink sink_;
  std::string self_;
  std::array<std::atomic<std::uint64_t>, kRejectReasonCount> counts_{};
  std::mutex mutex_;
  std::unordered_set<std::string> logged_;
  bool saturated_ = false;
};

}  // namespace chorus
