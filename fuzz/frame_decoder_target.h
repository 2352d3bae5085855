#pragma once
// The frame decoder as a fuzz target, shared by the libFuzzer executable and the ordinary test
// that replays the seed corpus (tests/wire/test_fuzz_corpus.cpp).
//
// Input layout: byte 0 picks the receiver (low two bits: 0 no key, 1 key + authenticated-only
// frames accepted, 2 key + encryption required, 3 like 1), bytes 1..2 the head length h
// (little-endian), then h head bytes, then the body (the rest). Shorter inputs become a frame
// with a missing part. Every input goes through FrameOpener::open -- decode, swarm and policy
// checks, tag verification, replay and finiteness checks -- exactly as a received frame does.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "foundations/wire/rejection.h"

namespace chorus::fuzz {

inline constexpr std::uint64_t kNowUs = 1'700'000'000'000'000ull;  // the receiver's clock
// The swarm key of the keyed receivers: 32 bytes of 0x42.
inline constexpr std::uint8_t kKeyByte = 0x42;

struct FrameVerdict {
  bool accepted = false;
  std::optional<RejectReason> reason;  // set when refused
};

FrameVerdict open_fuzz_input(const std::uint8_t* data, std::size_t size);

}  // namespace chorus::fuzz
