#include "foundations/transport/frame_opener.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "foundations/base/error.h"

namespace chorus {

FrameOpener::FrameOpener(ReceiverPolicy policy, std::shared_ptr<FrameCipher> cipher, RejectionLog& log)
    : policy_(policy), cipher_(std::move(cipher)), log_(log), replay_(policy.time_window) {
  CHORUS_CHECK((policy_.minimum == wire::Protection::kNone) == (cipher_ == nullptr),
               "a cipher is given exactly when frames must be protected");
}

std::optional<ReceivedMessage> FrameOpener::open(WireFrame&& frame, std::uint64_t now_us) {
  const std::string origin = frame.origin.empty() ? std::string("unknown") : frame.origin;
  if (frame.parts != 2) {
    log_.reject(frame.parts < 2 ? RejectReason::kTruncated : RejectReason::kMalformed, origin, origin,
                fmt::format("{} message parts, a frame has 2", frame.parts));
    return std::nullopt;
  }
  const std::span<const std::byte> head(static_cast<const std::byte*>(frame.head.data()), frame.head.size());
  const wire::DecodeResult decoded = wire::decode_head(head, frame.body.size(), {policy_.max_payload_bytes});
  if (!decoded.head) {
    log_.reject(decoded.reason, origin, origin, decoded.detail);
    return std::nullopt;
  }
  const wire::DecodedHead& d = *decoded.head;
  const wire::Header& h = d.header;
  // Before the frame verifies, its sender address is only a claim: the log rule keys on the
  // connection; afterwards on the sender.
  const std::string who = fmt::format("{} via {}", d.sender_address, origin);
  const std::string claimed = fmt::format("{} (unverified) via {}", d.sender_address, origin);
  if (h.swarm_id != policy_.swarm_id) {
    log_.reject(RejectReason::kWrongSwarm, origin, claimed,
                fmt::format("swarm id {:016x}, this peer's is {:016x} (another swarm key, or none)", h.swarm_id,
                            policy_.swarm_id));
    return std::nullopt;
  }
  if (policy_.minimum == wire::Protection::kNone) {
    if (h.protection != wire::Protection::kNone) {
      log_.reject(RejectReason::kSecurityMismatch, origin, claimed,
                  fmt::format("{} frame, but this peer has no swarm key to check it", wire::protection_name(h.protection)));
      return std::nullopt;
    }
  } else {
    if (static_cast<int>(h.protection) < static_cast<int>(policy_.minimum)) {
      log_.reject(RejectReason::kSecurityMismatch, origin, claimed,
                  fmt::format("{} frame, this peer requires {}", wire::protection_name(h.protection),
                              wire::protection_name(policy_.minimum)));
      return std::nullopt;
    }
    if (!FrameCipher::available(h.cipher)) {
      log_.reject(RejectReason::kSecurityMismatch, origin, claimed,
                  fmt::format("cipher {} is not available on this CPU", wire::cipher_name(h.cipher)));
      return std::nullopt;
    }
  }

  // Where the plaintext body ends up: in place in the received message, or (when a parameter
  // body is not 4-byte aligned there) in an aligned buffer of our own.
  std::byte* body = static_cast<std::byte*>(frame.body.data());
  const std::size_t body_bytes = frame.body.size();
  const bool want_aligned = h.kind == wire::PayloadKind::kParams;
  const bool aligned = reinterpret_cast<std::uintptr_t>(body) % alignof(float) == 0;
  std::shared_ptr<std::vector<float>> own;
  if (want_aligned && !aligned) own = std::make_shared<std::vector<float>>((body_bytes + 3) / 4);

  // Parameters must all be finite. With a key, the pass that authenticates (and decrypts) the
  // body checks that too, block by block while the bytes are in registers; without one, a pass
  // of its own does. Either way the verdict is acted on only after the replay checks below, so
  // the reason a frame is refused for does not depend on how it was checked.
  bool finite = true;
  if (h.protection != wire::Protection::kNone) {
    std::byte* out = nullptr;
    if (h.protection == wire::Protection::kEncrypted) out = own ? reinterpret_cast<std::byte*>(own->data()) : body;
    if (!cipher_->open(h, d.authenticated, d.tag, {body, body_bytes}, out, d.params ? &finite : nullptr)) {
      log_.reject(RejectReason::kAuthFailed, origin, claimed, "tag does not verify (forged, corrupted, or another swarm key)");
      return std::nullopt;
    }
    if (own && h.protection == wire::Protection::kAuthenticated) std::memcpy(own->data(), body, body_bytes);
  } else {
    if (own) std::memcpy(own->data(), body, body_bytes);
    if (d.params) finite = wire::all_finite_f32({body, body_bytes});
  }

  if (auto why = replay_.check_and_commit(h.sender_id, h.incarnation, h.sequence, h.timestamp_us, now_us)) {
    std::string detail;
    switch (*why) {
      case RejectReason::kStaleIncarnation:
        detail = fmt::format("incarnation {} is older than one already seen", h.incarnation);
        break;
      case RejectReason::kOutsideTimeWindow:
        detail = fmt::format("timestamp {} us is {} s from this peer's clock", h.timestamp_us,
                             (static_cast<double>(h.timestamp_us) - static_cast<double>(now_us)) / 1e6);
        break;
      default:
        detail = fmt::format("sequence {} already seen or older than the replay window", h.sequence);
    }
    log_.reject(*why, std::string(d.sender_address), who, detail);
    return std::nullopt;
  }

  ReceivedMessage m;
  if (own) {
    m.payload.data = std::as_bytes(std::span<const float>(own->data(), body_bytes / 4));
    m.payload.owner = std::move(own);
  } else {
    auto holder = std::make_shared<zmq::message_t>(std::move(frame.body));
    m.payload.data = {static_cast<const std::byte*>(holder->data()), holder->size()};
    m.payload.owner = std::move(holder);
  }
  if (!finite) {
    log_.reject(RejectReason::kNonFinite, std::string(d.sender_address), who,
                "parameter payload holds NaN or infinity");
    return std::nullopt;
  }
  m.from = std::string(d.sender_address);
  m.sender_id = h.sender_id;
  m.incarnation = h.incarnation;
  m.sequence = h.sequence;
  m.type = h.type;
  m.params = d.params;
  return m;
}

}  // namespace chorus
