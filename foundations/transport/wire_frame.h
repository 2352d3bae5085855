#pragma once
// WireFrame: one frame as it travels, the two parts of wire.h in ZeroMQ messages (which need
// no socket; the in-process hub moves the same objects), plus where it came from for logs.
#include <zmq.hpp>

#include <cstddef>
#include <string>

namespace chorus {

struct WireFrame {
  zmq::message_t head;
  zmq::message_t body;
  std::size_t parts = 2;  // parts received; anything but 2 is malformed
  std::string origin;     // the connection's remote address, if known (for logs only)
  // Sent on a connection of its own, never queued behind bulk traffic (membership messages:
  // a probe that waits behind megabytes of parameters makes a live member look dead).
  bool urgent = false;
};

}  // namespace chorus
