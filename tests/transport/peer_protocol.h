#pragma once
// The little request/response protocol spoken by transport_test_peer (test_peer.cpp) and the
// tests that talk to it.
#include <cstdint>

#include "foundations/wire/message_types.h"

namespace chorus_test::peer {

inline constexpr std::uint16_t kEcho = chorus::msg::kTest.at(1);          // bytes -> kEchoReply with the same bytes
inline constexpr std::uint16_t kEchoReply = chorus::msg::kTest.at(2);
inline constexpr std::uint16_t kParams = chorus::msg::kTest.at(3);        // parameters -> kParamsReply "count=N sum=S"
inline constexpr std::uint16_t kParamsReply = chorus::msg::kTest.at(4);
inline constexpr std::uint16_t kStats = chorus::msg::kTest.at(5);         // -> kStatsReply: JSON {"reason": count, ...}
inline constexpr std::uint16_t kStatsReply = chorus::msg::kTest.at(6);
inline constexpr std::uint16_t kQuit = chorus::msg::kTest.at(7);

}  // namespace chorus_test::peer
