#pragma once
// FrameSealer: turns an outgoing message into a WireFrame (head encoded, sequence number and
// timestamp assigned, tag computed, body encrypted or borrowed). Thread-safe: the sequence
// counter is atomic and the cipher is thread-safe.
#include <atomic>
#include <memory>
#include <span>
#include <string>

#include "foundations/crypto/frame_cipher.h"
#include "foundations/transport/body_pool.h"
#include "foundations/transport/transport.h"
#include "foundations/transport/wire_frame.h"
#include "foundations/wire/wire.h"

namespace chorus {

struct SenderIdentity {
  std::uint64_t swarm_id = 0;
  std::uint64_t sender_id = 0;
  std::uint64_t incarnation = 0;
  std::string address;
  wire::Protection protection = wire::Protection::kNone;
  wire::Cipher cipher = wire::Cipher::kNone;
};

class FrameSealer {
 public:
  // `cipher` is required iff identity.protection != kNone.
  FrameSealer(SenderIdentity identity, std::shared_ptr<FrameCipher> cipher);

  WireFrame seal_bytes(std::uint16_t type, std::span<const std::byte> payload);
  // With `borrow` set and a protection that leaves the body in the clear, the body refers to
  // `chunk` itself and `borrow` learns when it is released; otherwise the body is a new buffer
  // (the ciphertext, or a copy).
  WireFrame seal_params(std::uint16_t type, const wire::ParamHeader& header, std::span<const float> chunk,
                        const std::shared_ptr<SendCompletion::State>* borrow);

  const SenderIdentity& identity() const { return identity_; }

 private:
  WireFrame seal(wire::Header h, const wire::ParamHeader* params, std::span<const std::byte> body,
                 const std::shared_ptr<SendCompletion::State>* borrow);

  SenderIdentity identity_;
  std::shared_ptr<FrameCipher> cipher_;
  std::shared_ptr<BodyPool> pool_ = BodyPool::create();
  std::atomic<std::uint64_t> next_sequence_{1};
};

}  // namespace chorus
