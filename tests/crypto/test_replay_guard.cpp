// The replay guard: each (sender, incarnation, sequence) once, older incarnations never, and
// only inside the time window.
#include <doctest/doctest.h>

#include "foundations/crypto/replay_guard.h"

using namespace chorus;
using namespace std::chrono_literals;

namespace {
constexpr std::uint64_t kNow = 1'000'000'000'000;
std::optional<RejectReason> accept(ReplayGuard& g, std::uint64_t sender, std::uint64_t inc, std::uint64_t seq,
                                   std::uint64_t ts = kNow) {
  return g.check_and_commit(sender, inc, seq, ts, kNow);
}
}  // namespace

TEST_CASE("each sequence number is accepted once") {
  ReplayGuard g(60s);
  for (std::uint64_t s = 1; s <= 100; ++s) CHECK_FALSE(accept(g, 1, 1, s));
  for (std::uint64_t s = 1; s <= 100; ++s) CHECK(accept(g, 1, 1, s) == RejectReason::kReplay);
  CHECK_FALSE(accept(g, 2, 1, 5));  // another sender has its own numbers
}

TEST_CASE("gaps and reordering inside the window are fine, older than the window is not") {
  ReplayGuard g(60s);
  CHECK_FALSE(accept(g, 1, 1, 10));
  CHECK_FALSE(accept(g, 1, 1, 500));
  CHECK_FALSE(accept(g, 1, 1, 20));   // late but unseen
  CHECK(accept(g, 1, 1, 20) == RejectReason::kReplay);
  CHECK(accept(g, 1, 1, 10) == RejectReason::kReplay);
  CHECK_FALSE(accept(g, 1, 1, 500 + ReplayGuard::kWindow - 1));
  CHECK(accept(g, 1, 1, 499) == RejectReason::kReplay);  // now older than the window
  CHECK_FALSE(accept(g, 1, 1, 500 + ReplayGuard::kWindow));
  CHECK(accept(g, 1, 1, 500) == RejectReason::kReplay);
  // A jump far ahead clears the bitmap but keeps refusing everything behind.
  CHECK_FALSE(accept(g, 1, 1, 1'000'000));
  CHECK(accept(g, 1, 1, 999'999 - ReplayGuard::kWindow) == RejectReason::kReplay);
  CHECK_FALSE(accept(g, 1, 1, 999'999));
  CHECK(accept(g, 1, 1, 999'999) == RejectReason::kReplay);
}

TEST_CASE("window bits shift correctly across word boundaries") {
  ReplayGuard g(0s);
  // Accept every third number, then check that exactly those are refused as replays.
  for (std::uint64_t s = 1; s < 3000; s += 3) CHECK_FALSE(accept(g, 9, 1, s));
  for (std::uint64_t s = 1; s < 3000; ++s) {
    CAPTURE(s);
    if (s % 3 == 1) CHECK(accept(g, 9, 1, s) == RejectReason::kReplay);
  }
  for (std::uint64_t s = 1; s < 3000; ++s)
    if (s % 3 != 1) CHECK_FALSE(accept(g, 9, 1, s));
}

TEST_CASE("older incarnations are refused, a newer one starts afresh") {
  ReplayGuard g(60s);
  CHECK_FALSE(accept(g, 1, 5, 100));
  CHECK(accept(g, 1, 4, 200) == RejectReason::kStaleIncarnation);
  CHECK_FALSE(accept(g, 1, 6, 1));  // restarted: sequence numbers begin again
  CHECK(accept(g, 1, 5, 101) == RejectReason::kStaleIncarnation);
  CHECK(accept(g, 1, 6, 1) == RejectReason::kReplay);
}

TEST_CASE("timestamps outside the window are refused either way, and do not move the state") {
  ReplayGuard g(10s);
  CHECK(accept(g, 1, 1, 1, kNow - 11'000'000) == RejectReason::kOutsideTimeWindow);
  CHECK(accept(g, 1, 1, 1, kNow + 11'000'000) == RejectReason::kOutsideTimeWindow);
  CHECK_FALSE(accept(g, 1, 1, 1, kNow - 9'000'000));
  CHECK_FALSE(accept(g, 1, 1, 2, kNow + 9'000'000));
  ReplayGuard off(0s);
  CHECK_FALSE(accept(off, 1, 1, 1, 0));
}
