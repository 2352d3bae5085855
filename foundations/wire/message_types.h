#pragma once
// Message types on the wire, by the layer that owns them. Each layer receives only its own
// range (Transport::receive with a TypeRange), so layers sharing one transport never steal
// each other's messages.
#include <cstdint>

namespace chorus {

// Inclusive range of message types a receive() call wants; also a family of message types.
struct TypeRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0xffff;
  static constexpr TypeRange only(std::uint16_t type) { return {type, type}; }
  constexpr bool contains(std::uint16_t type) const { return type >= first && type <= last; }
  // The type `offset` places after the family's first: how every message type is named, e.g.
  // `inline constexpr std::uint16_t kPing = msg::kMembership.at(1);`. Evaluated only while
  // compiling, and an offset outside the family does not compile.
  consteval std::uint16_t at(std::uint16_t offset) const {
    if (offset > last - first) throw "message type offset outside its family";
    return static_cast<std::uint16_t>(first + offset);
  }
};

}  // namespace chorus

namespace chorus::msg {

inline constexpr TypeRange kMembership{0x0100, 0x01ff};     // SWIM probes, joins, syncs, leaves
inline constexpr TypeRange kStateTransfer{0x0200, 0x02ff};  // a joining peer pulls state
inline constexpr TypeRange kCollective{0x0300, 0x03ff};     // ring all-reduce
inline constexpr TypeRange kGossip{0x0400, 0x04ff};         // gossip, elastic, leader, stores
inline constexpr TypeRange kTest{0x0f00, 0x0fff};           // tests and diagnostics

}  // namespace chorus::msg
