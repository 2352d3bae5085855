#include "peers/membership/suspicion.h"

#include <algorithm>
#include <cmath>

namespace chorus::membership {

Suspicion::Suspicion(std::uint64_t incarnation, PeerId accuser, int expected_confirmations,
                     std::chrono::milliseconds min, std::chrono::milliseconds max, Clock::time_point start)
    : incarnation_(incarnation), expected_(std::max(0, expected_confirmations)), min_(min), max_(max), start_(start) {
  confirmers_.insert(accuser);
}

bool Suspicion::confirm(PeerId from) {
  if (confirmations() >= expected_) return false;
  return confirmers_.insert(from).second;
}

Suspicion::Clock::time_point Suspicion::deadline() const {
  return start_ + timeout(confirmations(), expected_, min_, max_);
}

std::chrono::milliseconds Suspicion::timeout(int confirmations, int expected, std::chrono::milliseconds min,
                                             std::chrono::milliseconds max) {
  if (expected < 1) return min;
  const double frac = std::log(static_cast<double>(confirmations) + 1.0) / std::log(static_cast<double>(expected) + 1.0);
  const double raw = static_cast<double>(max.count()) - frac * static_cast<double>((max - min).count());
  return std::max(min, std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(raw))));
}

}  // namespace chorus::membership
