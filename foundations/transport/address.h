#pragma once
// Transport addresses: how they are written and checked, whether one stays on this host, and
// the default peer id.
//
//   tcp://HOST:PORT   HOST an IPv4 address, [an IPv6 address], or a name (a host or, to
//                     bind, an interface); PORT 1..65535. To bind, HOST may be * (every
//                     interface) and PORT * (the system picks a free one).
//   ipc://PATH        a Unix socket; to bind, ipc://* (a fresh path).
//   inproc://NAME     within one process only (the in-process transport; tests).
//
// Pure functions: no state, no blocking, safe from any thread.
#include <cstdint>
#include <optional>
#include <string>

namespace chorus {

// What an address is for: binding a socket (the system may choose the port, the interface or
// the ipc path) or reaching a peer (every part given).
enum class AddressUse { bind, connect };

// An address split into its parts.
struct Address {
  std::string scheme;  // tcp, ipc or inproc
  std::string host;    // tcp: the host as written (no brackets), or * (bind); ipc: the path; inproc: the name
  int port = 0;        // tcp: 1..65535, or 0 for * (bind: picked by the system); 0 for ipc and inproc
};

// Parses `text` strictly: a known scheme, a well-formed host, a port in 1..65535 (never
// wrapped or cut to fit), at most wire::kMaxAddressBytes printable ASCII characters; what only
// binding allows (*) is refused for `connect`. Returns nothing, with the reason (what is wrong
// and what to write instead) in *problem when that is given, for anything else.
std::optional<Address> parse_address(const std::string& text, AddressUse use, std::string* problem = nullptr);

// An address given to a chorus command (`option` names it, e.g. "--seeds"): parse_address,
// and no inproc:// (separate processes cannot reach each other there). Throws UserError
// "OPTION: 'TEXT': what is wrong; what to write" otherwise.
Address check_address(const std::string& text, AddressUse use, const std::string& option);

// True for tcp://127.x.y.z:port, tcp://localhost:port, tcp://[::1]:port, ipc:// and inproc://.
// Anything else, tcp://*:port and tcp://0.0.0.0:port included, is not.
bool is_on_this_host(const std::string& address);

// The default peer id: the first 8 bytes of BLAKE2b of the address.
std::uint64_t peer_id_from_address(const std::string& address);

// Wall clock in microseconds since the epoch.
std::uint64_t wall_clock_us();

}  // namespace chorus
