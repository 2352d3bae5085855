#include "foundations/wire/rejection.h"

namespace chorus {

const char* reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::kTruncated: return "truncated";
    case RejectReason::kBadMagic: return "bad_magic";
    case RejectReason::kBadVersion: return "bad_version";
    case RejectReason::kBadLength: return "bad_length";
    case RejectReason::kOversized: return "oversized";
    case RejectReason::kMalformed: return "malformed";
    case RejectReason::kWrongSwarm: return "wrong_swarm";
    case RejectReason::kSecurityMismatch: return "security_mismatch";
    case RejectReason::kAuthFailed: return "auth_failed";
    case RejectReason::kStaleIncarnation: return "stale_incarnation";
    case RejectReason::kOutsideTimeWindow: return "outside_time_window";
    case RejectReason::kReplay: return "replay";
    case RejectReason::kNonFinite: return "non_finite";
    case RejectReason::kQueueFull: return "queue_full";
  }
  return "unknown";
}

}  // namespace chorus
