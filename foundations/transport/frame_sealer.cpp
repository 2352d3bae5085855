#include "foundations/transport/frame_sealer.h"

#include <cstring>

#include "foundations/base/error.h"
#include "foundations/transport/address.h"
#include "foundations/transport/send_completion.h"

namespace chorus {

FrameSealer::FrameSealer(SenderIdentity identity, std::shared_ptr<FrameCipher> cipher)
    : identity_(std::move(identity)), cipher_(std::move(cipher)) {
  CHORUS_CHECK((identity_.protection == wire::Protection::kNone) == (cipher_ == nullptr),
               "a cipher is given exactly for protected frames");
  CHORUS_CHECK(!identity_.address.empty() && identity_.address.size() <= wire::kMaxAddressBytes,
               "sender address must be 1..255 bytes");
}

WireFrame FrameSealer::seal_bytes(std::uint16_t type, std::span<const std::byte> payload) {
  wire::Header h;
  h.type = type;
  h.kind = wire::PayloadKind::kBytes;
  return seal(h, nullptr, payload, nullptr);
}

WireFrame FrameSealer::seal_params(std::uint16_t type, const wire::ParamHeader& header, std::span<const float> chunk,
                                   const std::shared_ptr<SendCompletion::State>* borrow) {
  CHORUS_CHECK(header.count == chunk.size() && header.dtype == wire::DType::kF32,
               "payload header must describe the chunk");
  wire::Header h;
  h.type = type;
  h.kind = wire::PayloadKind::kParams;
  return seal(h, &header, std::as_bytes(chunk), borrow);
}

WireFrame FrameSealer::seal(wire::Header h, const wire::ParamHeader* params, std::span<const std::byte> body,
                            const std::shared_ptr<SendCompletion::State>* borrow) {
  h.swarm_id = identity_.swarm_id;
  h.sender_id = identity_.sender_id;
  h.incarnation = identity_.incarnation;
  h.sequence = next_sequence_.fetch_add(1, std::memory_order_relaxed);
  h.timestamp_us = wall_clock_us();
  h.payload_bytes = body.size();
  h.protection = identity_.protection;
  h.cipher = identity_.cipher;

  WireFrame f;
  f.head = zmq::message_t(wire::head_bytes(h.kind, h.protection, identity_.address.size()));
  std::span<std::byte> head(static_cast<std::byte*>(f.head.data()), f.head.size());
  wire::encode_head(h, identity_.address, params, head);

  if (h.protection == wire::Protection::kEncrypted) {
    f.body = pool_->acquire(body.size());
    cipher_->seal(h, head, body, static_cast<std::byte*>(f.body.data()));
    return f;
  }
  if (borrow && !body.empty())
    f.body = borrow_into_message(body.data(), body.size(), *borrow);
  else
    f.body = zmq::message_t(body.data(), body.size());  // copies
  if (h.protection == wire::Protection::kAuthenticated) cipher_->seal(h, head, body, nullptr);
  return f;
}

}  // namespace chorus
