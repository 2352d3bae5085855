#include "foundations/crypto/replay_guard.h"

#include <optional>

namespace chorus {

namespace {
bool test_bit(const std::array<std::uint64_t, ReplayGuard::kWindow / 64>& bits, std::uint64_t i) {
  return (bits[i / 64] >> (i % 64)) & 1u;
}
void set_bit(std::array<std::uint64_t, ReplayGuard::kWindow / 64>& bits, std::uint64_t i) {
  bits[i / 64] |= std::uint64_t{1} << (i % 64);
}
// Moves every bit up by `shift` positions (bit i becomes bit i + shift), dropping those that
// leave the window.
void shift_up(std::array<std::uint64_t, ReplayGuard::kWindow / 64>& bits, std::uint64_t shift) {
  constexpr std::size_t kWords = ReplayGuard::kWindow / 64;
  if (shift >= ReplayGuard::kWindow) {
    bits.fill(0);
    return;
  }
  const std::size_t words = shift / 64, rem = shift % 64;
  for (std::size_t i = kWords; i-- > 0;) {
    std::uint64_t v = 0;
    if (i >= words) {
      v = bits[i - words] << rem;
      if (rem && i > words) v |= bits[i - words - 1] >> (64 - rem);
    }
    bits[i] = v;
  }
}
}  // namespace

std::optional<RejectReason> ReplayGuard::check_and_commit(std::uint64_t sender, std::uint64_t incarnation,
                                                          std::uint64_t sequence, std::uint64_t timestamp_us,
                                                          std::uint64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = senders_.find(sender);
  if (it != senders_.end() && incarnation < it->second.incarnation) return RejectReason::kStaleIncarnation;
  if (time_window_.count() > 0) {
    const std::uint64_t w = static_cast<std::uint64_t>(time_window_.count());
    const std::uint64_t diff = timestamp_us > now_us ? timestamp_us - now_us : now_us - timestamp_us;
    if (diff > w) return RejectReason::kOutsideTimeWindow;
  }
  if (it == senders_.end()) {
    if (senders_.size() >= kMaxSenders) evict_oldest();
    it = senders_.emplace(sender, State{}).first;
  }
  State& s = it->second;
  if (!s.any || incarnation > s.incarnation) {
    s = State{};
    s.incarnation = incarnation;
    s.highest = sequence;
    s.any = true;
    set_bit(s.seen, 0);
  } else if (sequence > s.highest) {
    shift_up(s.seen, sequence - s.highest);
    s.highest = sequence;
    set_bit(s.seen, 0);
  } else {
    const std::uint64_t back = s.highest - sequence;
    if (back >= kWindow || test_bit(s.seen, back)) return RejectReason::kReplay;
    set_bit(s.seen, back);
  }
  s.last_heard_us = now_us;
  return std::nullopt;
}

void ReplayGuard::evict_oldest() {
  auto oldest = senders_.begin();
  for (auto it = senders_.begin(); it != senders_.end(); ++it)
    if (it->second.last_heard_us < oldest->second.last_heard_us) oldest = it;
  if (oldest != senders_.end()) senders_.erase(oldest);
}

}  // namespace chorus
