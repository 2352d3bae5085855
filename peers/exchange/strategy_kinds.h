#pragma once
// The factory function of each strategy, one per file in peers/strategies/.
#include "peers/exchange/strategy.h"

namespace chorus {

std::unique_ptr<Strategy> make_local_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_elastic_gossip_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_gossip_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_easgd_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_lsgd_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_downpour_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_allreduce_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_kavg_strategy(PeerServices& services);
std::unique_ptr<Strategy> make_hier_strategy(PeerServices& services);

}  // namespace chorus
