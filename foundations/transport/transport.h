#pragma once
// Transport: asynchronous messages between peers, each peer known by the address it binds.
//
// A peer binds one address (tcp://host:port, ipc://path, inproc://name; a tcp port of * picks
// a free one, see address()) and reaches any other peer by that peer's address. Every frame is
// encoded in the chorus wire format (wire.h) and, with a swarm key, authenticated or encrypted
// (frame_cipher.h); every received frame is decoded, verified, checked for replays and, for
// parameters, for NaN/Inf before receive() returns it. Refused frames are counted per reason
// (rejections()) and logged once per sender and reason.
//
// Two implementations share this interface and all of the framing, security and checking code:
// make_zmq_transport (zmq_transport.h; real sockets) and make_inproc_transport
// (inproc_transport.h; many peers in one process, for tests). Code above the transport
// (membership, all-reduce, gossip, state transfer) is written once against this interface.
//
// Blocking: every call that can wait takes a timeout and returns when it expires; nothing
// blocks without bound, whatever a remote peer does (dies mid-message, stops reading, floods).
//   send / send_params wait at most `timeout` for room in the destination's queue (and, the
//     first time, for the connection); on timeout they return kTimeout and send nothing more.
//     kOk means handed to the transport, not delivered: a peer that dies loses what was queued.
//   receive waits at most `timeout` for the next accepted message whose type is in `types`.
// Frames are verified and queued as they arrive, whether or not anyone is in receive(): by a
// thread of the transport's own, or by a receive() caller that finds nothing queued for it
// (one thread hand-over fewer). The queue is bounded (TransportConfig::
// receive_queue, receive_queue_bytes); a message that finds it full is dropped and counted as
// RejectReason::kQueueFull -- so a peer that stops receiving loses messages, never memory.
// Ordering: messages from one sender to one receiver arrive in the order they were sent when
// sent from one thread -- within the membership family, and within everything else: membership
// messages travel on a connection of their own (and have a reserve in the receive queue), so
// that they never wait behind bulk parameter traffic.
// Threading: all methods may be called from any number of threads at once. Concurrent
// receive() calls with different type ranges each get the messages they ask for; messages
// nobody has asked for yet stay queued.
//
// Zero copy: send_params reads `data` in place (no copy) when the frame is sent in the clear or
// authenticated-only on a ZeroMQ transport; encryption writes the ciphertext straight into the
// outgoing message (one pass) and then needs nothing more from `data`. Either way the caller
// must keep `data` alive and unchanged until SendResult::completion reports done; forget(to)
// drops queued frames to `to` so that their buffers are released promptly.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "foundations/base/peer_id.h"
#include "foundations/wire/message_types.h"
#include "foundations/wire/rejection.h"
#include "foundations/wire/wire.h"

namespace chorus {

enum class SendStatus {
  kOk,           // handed to the transport
  kTimeout,      // no room (or no connection) within the timeout; nothing more was sent
  kUnreachable,  // no such peer (in-process), or an address that cannot be connected to
};
const char* send_status_name(SendStatus status);

// Tells the sender of a zero-copy parameter send when its buffer may be reused. Copyable; all
// copies share one state. A default-constructed completion is already done.
class SendCompletion {
 public:
  struct State;
  SendCompletion();
  explicit SendCompletion(std::shared_ptr<State> state);
  bool done() const;
  // Waits until done or the timeout passes; returns done().
  bool wait_for(std::chrono::milliseconds timeout) const;
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

struct SendResult {
  SendStatus status = SendStatus::kOk;
  std::size_t messages_sent = 0;  // chunk messages handed to the transport
  SendCompletion completion;      // when the caller's buffer may be reused
  bool ok() const { return status == SendStatus::kOk; }
};

// What a parameter send says about its data: the chunks carry step, tag, and where in a
// logical buffer of total_elements elements `data` lies (from element `offset` on).
struct ParamSend {
  std::uint16_t type = 0;
  std::uint64_t step = 0;
  std::uint64_t tag = 0;
  std::uint64_t offset = 0;
  std::uint64_t total_elements = 0;  // 0: offset + data.size()
  std::size_t chunk_elements = 0;    // 0: TransportConfig::chunk_bytes / 4
};

// The body of a received message: bytes owned by the message (shared between copies).
// Parameter payloads are 4-byte aligned, so floats() can be read directly.
struct Payload {
  std::shared_ptr<const void> owner;
  std::span<const std::byte> data;
};

struct ReceivedMessage {
  std::string from;             // the sender's bound address (authenticated with a key)
  PeerId sender_id = 0;
  std::uint64_t incarnation = 0;
  std::uint64_t sequence = 0;
  std::uint16_t type = 0;
  std::optional<wire::ParamHeader> params;  // set for parameter chunks
  Payload payload;

  std::span<const std::byte> bytes() const { return payload.data; }
  // The chunk's values for an f32 parameter message; empty for any other message.
  std::span<const float> floats() const;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // The address other peers reach this one at (a tcp port of * resolved to the real one).
  virtual const std::string& address() const = 0;
  virtual PeerId id() const = 0;
  virtual std::uint64_t incarnation() const = 0;

  // Sends opaque bytes (copied; for control messages).
  virtual SendStatus send(const std::string& to, std::uint16_t type, std::span<const std::byte> payload,
                          std::chrono::milliseconds timeout) = 0;
  // Sends `data` as parameter chunks (see ParamSend), each its own message so the receiver
  // can verify and use one while the rest is in flight. `timeout` bounds the whole call.
  virtual SendResult send_params(const std::string& to, const ParamSend& meta, std::span<const float> data,
                                 std::chrono::milliseconds timeout) = 0;

  virtual std::optional<ReceivedMessage> receive(std::chrono::milliseconds timeout, TypeRange types = {}) = 0;

  // Drops the connection to `to` and whatever is still queued for it (e.g. after it died).
  virtual void forget(const std::string& to) = 0;

  virtual RejectionCounts rejections() const = 0;
};

}  // namespace chorus
