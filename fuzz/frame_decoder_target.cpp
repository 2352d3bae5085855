#include "fuzz/frame_decoder_target.h"

#include <zmq.hpp>

#include <algorithm>
#include <string>

#include "foundations/crypto/frame_cipher.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/transport/frame_opener.h"
#include "foundations/transport/rejection_log.h"

namespace chorus::fuzz {

FrameVerdict open_fuzz_input(const std::uint8_t* data, std::size_t size) {
  FrameVerdict v;
  const int mode = size > 0 ? (data[0] & 3) : 0;
  std::size_t head_len = size >= 3 ? static_cast<std::size_t>(data[1] | (data[2] << 8)) : 0;
  const std::size_t after = size >= 3 ? size - 3 : 0;
  head_len = std::min(head_len, after);

  WireFrame frame;
  frame.parts = size >= 3 ? 2 : (size > 0 ? 1 : 0);
  frame.head = zmq::message_t(data + std::min<std::size_t>(3, size), head_len);
  frame.body = zmq::message_t(data + std::min<std::size_t>(3, size) + head_len, after - head_len);
  frame.origin = "fuzz";

  ReceiverPolicy policy;
  policy.max_payload_bytes = 1 << 20;
  std::shared_ptr<FrameCipher> cipher;
  if (mode != 0) {
    SwarmKey::Bytes bytes;
    bytes.fill(kKeyByte);
    const SwarmKey key = SwarmKey::from_bytes(bytes);
    cipher = std::make_shared<FrameCipher>(key);
    policy.swarm_id = key.swarm_id();
    policy.minimum = mode == 2 ? wire::Protection::kEncrypted : wire::Protection::kAuthenticated;
  }
  RejectionLog log([](const std::string&) {}, "fuzz");
  FrameOpener opener(policy, cipher, log);
  auto message = opener.open(std::move(frame), kNowUs);
  v.accepted = message.has_value();
  if (message) {
    // Touch every byte that was handed out, so a sanitizer sees any bad view.
    std::uint8_t sink = 0;
    for (std::byte b : message->bytes()) sink ^= std::to_integer<std::uint8_t>(b);
    for (char c : message->from) sink ^= static_cast<std::uint8_t>(c);
    volatile std::uint8_t keep = sink;
    (void)keep;
  } else {
    const RejectionCounts counts = log.counts();
    for (std::size_t i = 0; i < kRejectReasonCount; ++i)
      if (counts.by_reason[i]) v.reason = static_cast<RejectReason>(i);
  }
  return v;
}

}  // namespace chorus::fuzz
