#pragma once
// The little request/response protocol spoken by transport_test_peer (test_peer.cpp) and the
// tests that talk to it.
#include <cstdint>

namespace chorus_test::peer {

inline constexpr std::uint16_t kEcho = 1;          // bytes -> kEchoReply with the same bytes
inline constexpr std::uint16_t kEchoReply = 2;
inline constexpr std::uint16_t kParams = 3;        // parameters -> kParamsReply "count=N sum=S"
inline constexpr std::uint16_t kParamsReply = 4;
inline constexpr std::uint16_t kStats = 5;         // -> kStatsReply: JSON {"reason": count, ...}
inline constexpr std::uint16_t kStatsReply = 6;
inline constexpr std::uint16_t kQuit = 7;

}  // namespace chorus_test::peer
