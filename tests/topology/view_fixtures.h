#pragma once
// Views for the topology tests: random ids (so hash order and id order differ), joins and
// leaves, and each peer's own copy of a view built the way membership would build it.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "topology/view.h"

namespace topology_test {

inline chorus::Member member_with_id(chorus::PeerId id) {
  return {id, "tcp://10.1." + std::to_string(id % 7) + "." + std::to_string(id % 251) + ":" +
                  std::to_string(7000 + id % 997),
          "", 1};
}

inline void sort_members(chorus::View& view) {
  std::sort(view.members.begin(), view.members.end(),
            [](const chorus::Member& a, const chorus::Member& b) { return a.id < b.id; });
}

// n members with distinct random 64-bit ids drawn from `seed`.
inline chorus::View random_view(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  chorus::View view;
  view.number = seed;
  while (view.members.size() < n) {
    const chorus::PeerId id = rng();
    if (std::none_of(view.members.begin(), view.members.end(),
                     [&](const chorus::Member& m) { return m.id == id; }))
      view.members.push_back(member_with_id(id));
  }
  sort_members(view);
  return view;
}

inline chorus::View without(const chorus::View& view, std::size_t index) {
  chorus::View next = view;
  next.number = view.number + 1;
  next.members.erase(next.members.begin() + static_cast<std::ptrdiff_t>(index));
  return next;
}

inline chorus::View with(const chorus::View& view, chorus::PeerId id) {
  chorus::View next = view;
  next.number = view.number + 1;
  next.members.push_back(member_with_id(id));
  sort_members(next);
  return next;
}

// The copy of `view` peer number `peer` holds: the same members, learned in an order of that
// peer's own (a different shuffle per peer), then sorted as a View requires.
inline chorus::View copy_as_seen_by(const chorus::View& view, std::size_t peer) {
  chorus::View copy;
  copy.number = view.number;
  copy.members = view.members;
  std::mt19937_64 rng(1000 + peer);
  std::shuffle(copy.members.begin(), copy.members.end(), rng);
  sort_members(copy);
  return copy;
}

inline std::vector<chorus::PeerId> ids_of(const chorus::View& view,
                                          const std::vector<std::size_t>& members) {
  std::vector<chorus::PeerId> ids;
  for (std::size_t i : members) ids.push_back(view.members[i].id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace topology_test
