#pragma once
// DelayLine: when each chunk of one direction of a relayed TCP stream may be delivered, so a
// user-space relay reproduces what a TCP connection over a slow or lossy link experiences
// where the kernel has no netem: every chunk is held for the one-way delay (± uniform
// jitter); with loss probability p per segment (1448-byte MSS), a chunk containing a lost
// segment is held one retransmission timeout longer, and — TCP delivering in order — every
// later chunk waits behind it (head-of-line blocking).
//
// Pure computation on the caller's clock (seconds); deterministic for a seed. Not thread-safe.
#include <cstddef>
#include <cstdint>
#include <random>

namespace chorus::tools {

struct LinkImpairment {
  double delay_s = 0;      // one-way delay
  double jitter_s = 0;     // uniform in [-jitter, +jitter] around the delay
  double loss = 0;         // probability that one segment is lost
  double rto_s = 0.2;      // the stall a lost segment costs (TCP's retransmission timeout)
  std::size_t segment_bytes = 1448;
};

class DelayLine {
 public:
  DelayLine(const LinkImpairment& link, std::uint64_t seed);
  // The time at which `bytes` read at `now` may be handed on: never earlier than now + the
  // delay drawn for it, never earlier than the previous chunk's release (order kept).
  double release_time(double now, std::size_t bytes);
  std::uint64_t stalls() const { return stalls_; }

 private:
  LinkImpairment link_;
  std::mt19937_64 rng_;
  double last_release_ = 0;
  std::uint64_t stalls_ = 0;
};

}  // namespace chorus::tools
