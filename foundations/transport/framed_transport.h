#pragma once
// FramedTransport: the one Transport implementation, over any FrameLink. It owns the framing,
// sealing, opening, rejection accounting, chunking of parameter sends and the receive queue;
// links only move frames.
//
// Receiving: one thread at a time pulls frames from the link, opens and checks them
// (FrameOpener), and appends what it accepts to a queue bounded by count and bytes
// (TransportConfig::receive_queue*); receive() takes the first queued message in its type
// range. The puller never waits for receive() callers: when the queue is full, the new message
// is dropped and counted (kQueueFull). That is what keeps memory bounded and the link's own
// buffers draining whatever remote peers do (see zmq_transport.cpp for why that matters).
//
// Who pulls: a receive() caller that finds nothing queued for it and nobody pulling pulls
// itself, so the message it waits for goes from the link to it on its own thread, opened
// there while the bytes are about to be used, with no hand-over between threads (what it pulls
// for other type ranges it queues for them). The transport's own thread pulls whenever no
// caller has for a short grace period (kCallerGrace, a few ms), so frames are opened and
// queued whether or not anyone is in receive(); a caller that arrives while it
// pulls interrupts it and takes over. A caller that pulled the message it wanted returns
// without handing the link on (it is usually back for the next one within the grace period).
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "foundations/transport/frame_link.h"
#include "foundations/transport/frame_opener.h"
#include "foundations/transport/frame_sealer.h"
#include "foundations/transport/rejection_log.h"
#include "foundations/transport/transport.h"
#include "foundations/transport/transport_config.h"

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
  // Pulls one frame (waiting until `deadline` at most) and opens it; never throws.
  std::optional<ReceivedMessage> pull_and_open(TransportClock::time_point deadline);
  // Queues an accepted message, or drops and counts it when the queue is full. Needs
  // inbox_mutex_.
  void enqueue(ReceivedMessage&& m);
  // The first queued message in `types`, removed from the queue. Needs inbox_mutex_.
  std::optional<ReceivedMessage> take_queued(TypeRange types);

  TransportConfig config_;
  std::unique_ptr<FrameLink> link_;
  PeerId id_ = 0;
  std::uint64_t incarnation_ = 0;
  RejectionLog log_;
  std::shared_ptr<FrameCipher> cipher_;
  std::unique_ptr<FrameSealer> sealer_;
  std::unique_ptr<FrameOpener> opener_;

  std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;   // receive() callers: a message was queued, or the link is free
  std::condition_variable puller_cv_;  // the receive thread: it may have to pull again
  std::deque<ReceivedMessage> inbox_;
  std::uint64_t inbox_bytes_ = 0;
  bool overflow_logged_ = false;
  // Who pulls from the link (at most one thread at a time), all under inbox_mutex_.
  bool pulling_ = false;             // some thread is in link_->pull / opening its frame
  bool thread_pulling_ = false;      // ... and it is the receive thread
  bool interrupt_sent_ = false;      // a caller asked the receive thread's pull to end
  int callers_waiting_ = 0;          // receive() callers waiting for a message or the link
  TransportClock::time_point caller_pulled_{};  // when a caller last finished pulling
  std::atomic<bool> stopping_{false};
  std::thread receiver_;  // last: starts after everything above exists
};

// Checks what every transport checks before binding: an address parse_address accepts for
// binding (address.h), one on this host when there is no swarm key, and sane sizes. Throws
// UserError.
void validate_bind_address(const TransportConfig& config, bool in_process);

}  // namespace chorus
