#pragma once
// ExchangeTimings: the bounds on every wait of a strategy's exchanges with other peers. The
// defaults suit real swarms; tests pass shorter ones through PeerServices.
#include <chrono>

namespace chorus {

struct ExchangeTimings {
  // Longest wait for a partner's / neighbour's / owner's answer; membership is re-checked
  // every `poll`, so a dead peer costs about its detection time, not this.
  std::chrono::milliseconds exchange_timeout{8000};
  // The same for a peer that has not started its strategy (readiness.h) and was never heard
  // from; an exchange left waiting is completed later if the peer answers.
  std::chrono::milliseconds first_contact_timeout{50};
  std::chrono::milliseconds poll{20};
  // Longest a send may wait for room at the destination.
  std::chrono::milliseconds send_timeout{2000};
  // How often a communication thread runs its periodic work (store reconciliation, expiry).
  std::chrono::milliseconds tick{50};
  // Partial letters (chunks missing) and unclaimed letters are dropped after this long.
  std::chrono::milliseconds letter_ttl{60000};
};

}  // namespace chorus
