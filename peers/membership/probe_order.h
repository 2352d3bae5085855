#pragma once
// ProbeOrder: which member to probe next. Walks a shuffled list of the live members (other
// than this one) and reshuffles after each full pass, so every member is probed once per pass
// (SWIM's round-robin, which bounds the time to first detection) in an order nobody can
// predict. Members that died or left since the shuffle are skipped; members that joined wait
// for the next pass.
//
// Not thread-safe; owned by the membership thread.
#include <optional>
#include <random>
#include <vector>

#include "peers/membership/member_table.h"

namespace chorus::membership {

class ProbeOrder {
 public:
  std::optional<PeerId> next(const MemberTable& table, PeerId self, std::mt19937_64& rng);

 private:
  std::vector<PeerId> order_;
  std::size_t index_ = 0;
};

}  // namespace chorus::membership
