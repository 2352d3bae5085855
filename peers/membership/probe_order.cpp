#include "peers/membership/probe_order.h"

#include <algorithm>

namespace chorus::membership {

std::optional<PeerId> ProbeOrder::next(const MemberTable& table, PeerId self, std::mt19937_64& rng) {
  for (int pass = 0; pass < 2; ++pass) {
    while (index_ < order_.size()) {
      const PeerId id = order_[index_++];
      const MemberRecord* r = table.find(id);
      if (r && is_live(r->state)) return id;
    }
    order_ = table.live_ids();
    std::erase(order_, self);
    std::shuffle(order_.begin(), order_.end(), rng);
    index_ = 0;
  }
  return std::nullopt;
}

}  // namespace chorus::membership
