#pragma once
// The ZeroMQ transport: a PULL socket bound at the peer's address receives from everyone; one
// PUSH socket per destination, created on first use and cached, sends (ZMQ_IMMEDIATE, so
// nothing queues for a peer that is not connected; bounded ZMQ_SNDHWM and a per-call send
// timeout, so send never blocks without bound). ZMQ_MAXMSGSIZE is set from the largest legal
// frame part, so an oversized part costs its sender the connection before it is buffered; ZMTP
// heartbeats detect dead connections. The transport owns its ZeroMQ context.
//
// Throws UserError when the address cannot be bound (in use, malformed) or is not on this host
// while no swarm key is configured.
#include <memory>

#include "foundations/transport/transport.h"
#include "foundations/transport/transport_config.h"

namespace chorus {

std::unique_ptr<Transport> make_zmq_transport(TransportConfig config);

}  // namespace chorus
