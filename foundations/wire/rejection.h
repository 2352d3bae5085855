#pragma once
// Why a receiving peer refused a frame, and how many it refused for each reason.
//
// Every frame a transport receives is either delivered or counted under exactly one reason.
// RejectionCounts is a plain snapshot (copyable); transports keep the live counters.
#include <array>
#include <cstddef>
#include <cstdint>

namespace chorus {

enum class RejectReason : std::uint8_t {
  kTruncated = 0,        // fewer bytes than the format requires (or a missing part)
  kBadMagic,             // not a chorus frame
  kBadVersion,           // a wire version this peer does not speak
  kBadLength,            // a length field disagrees with the bytes received
  kOversized,            // larger than the largest legal message
  kMalformed,            // a field with an illegal value (enum, reserved bits, address, ...)
  kWrongSwarm,           // another swarm id: a different swarm key (or none)
  kSecurityMismatch,     // weaker protection than this peer requires, or a cipher it lacks
  kAuthFailed,           // tag does not verify: forged, corrupted, or another key
  kStaleIncarnation,     // from an older incarnation than the newest seen for the sender
  kOutsideTimeWindow,    // sender's timestamp too far from this peer's clock
  kReplay,               // sequence number already seen (or too old to tell)
  kNonFinite,            // parameter payload with NaN or infinity
  kQueueFull,            // verified, but the receive queue was full (nobody receiving fast enough)
};

inline constexpr std::size_t kRejectReasonCount = 14;

// A stable lower-case name, e.g. "auth_failed" (used in logs and JSON).
const char* reject_reason_name(RejectReason reason);

struct RejectionCounts {
  std::array<std::uint64_t, kRejectReasonCount> by_reason{};
  std::uint64_t operator[](RejectReason r) const { return by_reason[static_cast<std::size_t>(r)]; }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (auto v : by_reason) t += v;
    return t;
  }
};

}  // namespace chorus
