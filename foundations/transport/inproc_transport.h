#pragma once
// The in-process transport: many peers in one process exchange frames through a shared
// InprocHub. It is the same Transport as the ZeroMQ one -- the same frames, sealing, checks,
// rejection counting, receive thread and type-range receiving -- with the sockets replaced by
// bounded in-memory queues: a send waits (up to its timeout) for room in the destination's
// queue, a send to an address nobody has registered returns kUnreachable at once, and
// destroying a transport unregisters it (what was queued for it is dropped), which is how
// tests kill a peer.
//
// Addresses are names (any 1..255 printable characters, e.g. inproc://peer-3); registering one
// that is taken throws UserError, like binding a port in use. Frames are copied into the queue,
// so send_params completes at once. The hub is thread-safe; share it by shared_ptr.
#include <memory>
#include <string>

#include "foundations/transport/transport.h"
#include "foundations/transport/transport_config.h"

namespace chorus {

class InprocHub {
 public:
  InprocHub();
  ~InprocHub();
  InprocHub(const InprocHub&) = delete;
  InprocHub& operator=(const InprocHub&) = delete;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

std::unique_ptr<Transport> make_inproc_transport(std::shared_ptr<InprocHub> hub, TransportConfig config);

}  // namespace chorus
