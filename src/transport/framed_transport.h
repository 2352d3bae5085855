#pragma once
// FramedTransport: the one Transport implementation, over any FrameLink. It owns the framing,
// sealing, opening, rejection accounting, chunking of parameter sends and the receive queue;
// links only move frames.
//
// Receiving: a thread of its own pulls frames from the link as fast as they come, opens and
// checks them (FrameOpener) and appends what it accepts to a queue bounded by count and bytes
// (TransportConfig::receive_queue*); receive() takes the first queued message in its type
// range. The thread never waits for receive() callers: when the queue is full, the new message
// is dropped and counted (kQueueFull). That is what keeps memory bounded and the link's own
// buffers draining whatever remote peers do (see zmq_link.cpp for why that matters).
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "chorus/transport.h"
#include "chorus/transport_config.h"
#include "transport/frame_link.h"
#include "transport/frame_opener.h"
#include "transport/frame_sealer.h"
#include "transport/rejection_log.h"

namespace chorus {

class FramedTransport final : public Transport {
 public:
  FramedTransport(TransportConfig config, std::unique_ptr<FrameLink> link);
  ~FramedTransport() override;

  const std::string& address() const override { return link_->address(); }
  PeerId id() const override { return id_; }
  std::uint64_t incarnation() const override { return incarnation_; }

  SendStatus send(const std::string& to, std::uint16_t type, std::span<const std::byte> payload,
                  std::chrono::milliseconds timeout) override;
  SendResult send_params(const std::string& to, const ParamSend& meta, std::span<const float> data,
                         std::chrono::milliseconds timeout) override;
  std::optional<ReceivedMessage> receive(std::chrono::milliseconds timeout, TypeRange types) override;
  void forget(const std::string& to) override { link_->forget(to); }
  RejectionCounts rejections() const override { return log_.counts(); }

 private:
  void check_destination(const std::string& to) const;
  void receive_loop();

  TransportConfig config_;
  std::unique_ptr<FrameLink> link_;
  PeerId id_ = 0;
  std::uint64_t incarnation_ = 0;
  RejectionLog log_;
  std::shared_ptr<FrameCipher> cipher_;
  std::unique_ptr<FrameSealer> sealer_;
  std::unique_ptr<FrameOpener> opener_;

  std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;
  std::deque<ReceivedMessage> inbox_;
  std::uint64_t inbox_bytes_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread receiver_;  // last: starts after everything above exists
};

// Checks what every transport checks before binding: an address of 1..255 printable bytes,
// one on this host when there is no swarm key, and sane sizes. Throws UserError.
void validate_bind_address(const TransportConfig& config, bool in_process);

}  // namespace chorus
