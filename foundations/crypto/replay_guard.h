#pragma once
// ReplayGuard: refuses frames a receiver has already accepted, or that are too old to judge.
//
// Per sender id it keeps the newest incarnation seen and, for that incarnation, the highest
// sequence number and a bitmap of the kWindow sequence numbers below it. A frame is accepted
// when
//   - its incarnation is not older than the newest seen for its sender (a newer one replaces
//     the state: the sender restarted),
//   - its timestamp lies within +-time_window of this peer's clock (bounds what a receiver that
//     restarted, and so forgot its bitmaps, can be made to accept again), and
//   - its sequence number is above the highest seen, or inside the window and not yet seen.
// Frames from one sender arrive in order over one connection, so the window only has to absorb
// small reorderings (e.g. a reconnect); anything older than the window is refused.
//
// Call check_and_commit only for frames that authenticated: an unauthenticated frame must not
// move the state. The table is bounded (kMaxSenders); when full, the sender heard from longest
// ago is forgotten. Thread-safe.
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "foundations/wire/rejection.h"

namespace chorus {

class ReplayGuard {
 public:
  static constexpr std::uint64_t kWindow = 4096;
  static constexpr std::size_t kMaxSenders = 65536;

  // time_window 0 disables the timestamp check.
  explicit ReplayGuard(std::chrono::microseconds time_window) : time_window_(time_window) {}

  // Returns nothing when accepted (and records it), else the reason for refusal.
  std::optional<RejectReason> check_and_commit(std::uint64_t sender, std::uint64_t incarnation,
                                               std::uint64_t sequence, std::uint64_t timestamp_us,
                                               std::uint64_t now_us);

 private:
  struct State {
    std::uint64_t incarnation = 0;
    std::uint64_t highest = 0;
    bool any = false;
    std::array<std::uint64_t, kWindow / 64> seen{};  // bit (highest - seq) for seq in window
    std::uint64_t last_heard_us = 0;
  };
  void evict_oldest();

  std::chrono::microseconds time_window_;
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, State> senders_;
};

}  // namespace chorus
