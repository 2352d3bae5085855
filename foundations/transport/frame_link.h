#pragma once
// FrameLink: what a concrete transport provides underneath FramedTransport -- moving whole
// WireFrames to an address and out of this peer's queue, with deadlines.
#include <chrono>
#include <optional>
#include <string>

#include "foundations/transport/transport.h"
#include "foundations/transport/wire_frame.h"

namespace chorus {

using TransportClock = std::chrono::steady_clock;

class FrameLink {
 public:
  virtual ~FrameLink() = default;
  virtual const std::string& address() const = 0;  // the bound address, resolved
  // True when the link keeps a borrowed body only until it is written out (ZeroMQ), so a
  // zero-copy parameter send completes without waiting for the receiver.
  virtual bool borrows_bodies() const = 0;
  // True when every address is in this process (no loopback rule needed).
  virtual bool in_process() const = 0;
  // Queues the frame for `to`; waits until the deadline at most. Thread-safe.
  virtual SendStatus push(const std::string& to, WireFrame&& frame, TransportClock::time_point deadline) = 0;
  // The next frame that arrived, or nothing by the deadline (or sooner after interrupt()).
  // Called by one thread at a time -- not always the same one.
  virtual std::optional<WireFrame> pull(TransportClock::time_point deadline) = 0;
  // Makes a pull() in progress return soon, with or without a frame; when none is in progress,
  // the next one may return early instead. Thread-safe; never blocks.
  virtual void interrupt() = 0;
  virtual void forget(const std::string& to) = 0;
};

}  // namespace chorus
