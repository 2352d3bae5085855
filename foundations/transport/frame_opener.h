#pragma once
// FrameOpener: the receiving half of the wire -- decodes a WireFrame, enforces the security
// policy, verifies (and decrypts), refuses replays and non-finite parameters, and returns the
// message; or counts and logs the reason it refused. Never throws for anything in the frame.
//
// Order of checks: part count, head structure (wire::decode_head), swarm id, protection policy,
// tag, incarnation / time window / sequence (ReplayGuard, only for frames that verified),
// finite parameters. Thread-safe.
#include <chrono>
#include <memory>
#include <optional>

#include "foundations/crypto/frame_cipher.h"
#include "foundations/crypto/replay_guard.h"
#include "foundations/transport/rejection_log.h"
#include "foundations/transport/transport.h"
#include "foundations/transport/wire_frame.h"

namespace chorus {

struct ReceiverPolicy {
  std::uint64_t swarm_id = 0;
  // The weakest protection accepted (kNone exactly when there is no key; then protected frames
  // are refused as a mismatch, since they cannot be checked).
  wire::Protection minimum = wire::Protection::kNone;
  std::uint64_t max_payload_bytes = 64ull << 20;
  std::chrono::microseconds time_window{120'000'000};
};

class FrameOpener {
 public:
  // `cipher` is required iff policy.minimum != kNone.
  FrameOpener(ReceiverPolicy policy, std::shared_ptr<FrameCipher> cipher, RejectionLog& log);

  std::optional<ReceivedMessage> open(WireFrame&& frame, std::uint64_t now_us);

 private:
  ReceiverPolicy policy_;
  std::shared_ptr<FrameCipher> cipher_;
  RejectionLog& log_;
  ReplayGuard replay_;
};

}  // namespace chorus
