#pragma once
// Factories of the gossip-family strategies (peers/strategies/*_strategy.cpp) with explicit
// time bounds; make_strategy() uses the defaults (Timings{}), tests pass shorter ones.
#include <memory>

#include "peers/exchange/strategy.h"
#include "peers/gossip/letter_kinds.h"

namespace chorus {

std::unique_ptr<Strategy> make_elastic_gossip_strategy(PeerServices& services, const gossip::Timings& timings);
std::unique_ptr<Strategy> make_gossip_strategy(PeerServices& services, const gossip::Timings& timings);
std::unique_ptr<Strategy> make_easgd_strategy(PeerServices& services, const gossip::Timings& timings);
std::unique_ptr<Strategy> make_lsgd_strategy(PeerServices& services, const gossip::Timings& timings);
std::unique_ptr<Strategy> make_downpour_strategy(PeerServices& services, const gossip::Timings& timings);

}  // namespace chorus
