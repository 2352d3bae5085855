#pragma once
// Bytes written as hex digits, for tests that spell out an exact byte layout:
// hex_bytes("01 0807 ff") is {0x01, 0x08, 0x07, 0xff}. Spaces (and any other non-hex
// character) only separate; an odd digit count aborts the test program.
#include <cstddef>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace chorus_test {

inline std::vector<std::byte> hex_bytes(std::string_view text) {
  const auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::byte> out;
  int high = -1;
  for (char c : text) {
    const int d = digit(c);
    if (d < 0) continue;
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<std::byte>(high * 16 + d));
      high = -1;
    }
  }
  if (high >= 0) std::abort();
  return out;
}

}  // namespace chorus_test
