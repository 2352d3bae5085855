#pragma once
// CommStats: bytes and seconds a peer spends communicating, for its logs (bytes_sent,
// bytes_recv, comm_s, idle_s). Strategies add to it from any of their threads; the peer's
// training thread reads it.
#include <atomic>
#include <cstdint>

namespace chorus {

struct CommStats {
  std::atomic<std::uint64_t> bytes_sent{0}, bytes_recv{0};
  std::atomic<double> comm_s{0.0};  // time inside exchanges
  std::atomic<double> idle_s{0.0};  // time the training thread waited on communication
};

}  // namespace chorus
