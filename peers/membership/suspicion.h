#pragma once
// Suspicion: the timer of one suspected member, Lifeguard style. It starts at `max` and
// shrinks towards `min` as independent members confirm the suspicion:
//   timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
// for c confirmations of k expected (k = 0: `min` at once). The first accuser does not count
// as a confirmation, nor does anyone twice.
//
// Pure bookkeeping; the membership thread owns it and checks deadline().
#include <chrono>
#include <cstdint>
#include <set>

#include "topology/view.h"

namespace chorus::membership {

class Suspicion {
 public:
  using Clock = std::chrono::steady_clock;
  Suspicion(std::uint64_t incarnation, PeerId accuser, int expected_confirmations, std::chrono::milliseconds min,
            std::chrono::milliseconds max, Clock::time_point start);

  // Counts `from` as a confirmation; true when it is new (the deadline moved closer).
  bool confirm(PeerId from);
  Clock::time_point deadline() const;
  std::uint64_t incarnation() const { return incarnation_; }
  int confirmations() const { return static_cast<int>(confirmers_.size()) - 1; }

  // The timeout after `confirmations` of `expected`.
  static std::chrono::milliseconds timeout(int confirmations, int expected, std::chrono::milliseconds min,
                                           std::chrono::milliseconds max);

 private:
  std::uint64_t incarnation_;
  int expected_;
  std::chrono::milliseconds min_, max_;
  Clock::time_point start_;
  std::set<PeerId> confirmers_;  // the first accuser included; bounded by expected_ + 1
};

}  // namespace chorus::membership
