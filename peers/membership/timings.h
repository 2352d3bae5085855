#pragma once
// Checks of MembershipTimings and the values derived from them (suspicion bounds for a swarm
// size, the per-send timeout, the retransmit limit). Pure functions.
#include <chrono>
#include <cstddef>

#include "peers/membership/membership.h"

namespace chorus::membership {

// Throws UserError naming the first field that is out of range.
void validate(const MembershipTimings& timings);

// How long one send may wait for room or a connection: probe_timeout / 4, within [5, 100] ms,
// so that a dead destination costs the protocol thread little.
std::chrono::milliseconds send_timeout(const MembershipTimings& timings);

struct SuspicionBounds {
  std::chrono::milliseconds min;
  std::chrono::milliseconds max;
  int expected_confirmations = 0;  // Lifeguard's k
};
// The suspicion timeout range for a swarm of `live` members (alive or suspect): suspicion_min
// and suspicion_max, scaled by max(1, log10(live)) when suspicion_scales_with_size is set.
// Expects suspicion_confirmations independent confirmations, or none (timeout = min) when the
// swarm has fewer than that many members besides the suspect and the first accuser.
SuspicionBounds suspicion_bounds(const MembershipTimings& timings, std::size_t live);

// How many times one update is piggybacked: retransmit_mult * ceil(log10(live + 1)).
int retransmit_limit(const MembershipTimings& timings, std::size_t live);

}  // namespace chorus::membership
