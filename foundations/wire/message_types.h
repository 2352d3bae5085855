#pragma once
// Message types on the wire, by the layer that owns them. Each layer receives only its own
// range (Transport::receive with a TypeRange), so layers sharing one transport never steal
// each other's messages.
#include <cstdint>

namespace chorus {

// Inclusive range of message types a receive() call wants.
struct TypeRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0xffff;
  static TypeRange only(std::uint16_t type) { return {type, type}; }
  bool contains(std::uint16_t type) const { return type >= first && type <= last; }
};

}  // namespace chorus

namespace chorus::msg {

inline constexpr TypeRange kMembership{0x0100, 0x01ff};     // SWIM probes, joins, syncs, leaves
inline constexpr TypeRange kStateTransfer{0x0200, 0x02ff};  // a joining peer pulls state
inline constexpr TypeRange kCollective{0x0300, 0x03ff};     // ring all-reduce
inline constexpr TypeRange kGossip{0x0400, 0x04ff};         // gossip, elastic, leader, stores
inline constexpr TypeRange kTest{0x0f00, 0x0fff};           // tests and diagnostics

}  // namespace chorus::msg
