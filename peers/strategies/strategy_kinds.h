#pragma once
// The factory function of each strategy, one per file in peers/strategies/.
#include "chorus/strategy.h"

namespace chorus {

std::unique_ptr<Strategy> make_local_strategy(PeerServices& services);

}  // namespace chorus
