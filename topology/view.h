#pragma once
// View: one numbered membership view — the set of live members every peer eventually agrees
// on. Membership produces views; topology, strategies and sharding are pure functions of a
// view, so every peer computes the same answer without a coordinator.
#include <cstdint>
#include <string>
#include <vector>

#include "foundations/base/peer_id.h"

namespace chorus {

struct Member {
  PeerId id = 0;
  std::string address;       // where it listens, e.g. "tcp://127.0.0.1:7001"
  std::string group;         // --group label; empty: none given
  std::uint64_t incarnation = 0;
  // What the member says of itself to the others, "key=value;…" (its strategy once that runs:
  // peers/exchange/readiness.h). Membership carries it without reading it: at most 255
  // printable characters, no spaces; a newer version of the member's record replaces it.
  std::string meta{};
};

struct View {
  std::uint64_t number = 0;      // grows with every change
  std::vector<Member> members;   // sorted by id, ids unique
  std::size_t size() const { return members.size(); }
  // Index of the member with this id, or -1.
  int index_of(PeerId id) const {
    for (std::size_t i = 0; i < members.size(); ++i)
      if (members[i].id == id) return static_cast<int>(i);
    return -1;
  }
};

}  // namespace chorus
