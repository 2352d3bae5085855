#pragma once
// Integer-valued test data for the ring tests: exact in float, distinct per member, element
// and round, so any sum over a set of members is exact and tells which members it combines.
#include <cstddef>
#include <cstdint>

namespace ring_test {

inline float value(std::size_t member, std::size_t element, std::uint64_t round = 0) {
  return static_cast<float>((member + 1) * 10 + static_cast<int>((element * 7 + round * 3) % 101) - 50);
}

}  // namespace ring_test
