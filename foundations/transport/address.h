#pragma once
// Address helpers: whether an address stays on this host, and the default peer id.
#include <cstdint>
#include <string>

namespace chorus {

// True for tcp://127.x.y.z:port, tcp://localhost:port, tcp://[::1]:port, ipc:// and inproc://.
// Anything else, tcp://*:port and tcp://0.0.0.0:port included, is not.
bool is_on_this_host(const std::string& address);

// The default peer id: the first 8 bytes of BLAKE2b of the address.
std::uint64_t peer_id_from_address(const std::string& address);

// Wall clock in microseconds since the epoch.
std::uint64_t wall_clock_us();

}  // namespace chorus
