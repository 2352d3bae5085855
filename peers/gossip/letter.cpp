#include "peers/gossip/letter.h"

#include <bit>
#include <cstring>

namespace chorus::gossip {
namespace {

constexpr std::uint8_t kVersion = 1;

void put(std::vector<std::byte>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

std::uint64_t get(std::span<const std::byte> in, std::size_t& at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(in[at + i]) << (8 * i);
  at += static_cast<std::size_t>(bytes);
  return v;
}

}  // namespace

std::vector<std::byte> encode(const LetterHead& h) {
  std::vector<std::byte> out;
  out.reserve(kLetterHeadBytes);
  put(out, kVersion, 1);
  put(out, h.kind, 2);
  put(out, h.id, 8);
  put(out, h.ref, 8);
  put(out, h.round, 8);
  put(out, static_cast<std::uint64_t>(h.step), 8);
  put(out, static_cast<std::uint64_t>(h.since_start), 8);
  put(out, h.view, 8);
  put(out, std::bit_cast<std::uint64_t>(h.value), 8);
  put(out, h.a, 8);
  put(out, h.b, 8);
  put(out, h.count, 8);
  return out;
}

std::optional<LetterHead> decode(std::span<const std::byte> in) {
  if (in.size() != kLetterHeadBytes) return std::nullopt;
  std::size_t at = 0;
  if (get(in, at, 1) != kVersion) return std::nullopt;
  LetterHead h;
  h.kind = static_cast<std::uint16_t>(get(in, at, 2));
  h.id = get(in, at, 8);
  h.ref = get(in, at, 8);
  h.round = get(in, at, 8);
  h.step = static_cast<std::int64_t>(get(in, at, 8));
  h.since_start = static_cast<std::int64_t>(get(in, at, 8));
  h.view = get(in, at, 8);
  h.value = std::bit_cast<double>(get(in, at, 8));
  h.a = get(in, at, 8);
  h.b = get(in, at, 8);
  h.count = get(in, at, 8);
  if (h.count > (std::uint64_t{1} << 34)) return std::nullopt;  // far beyond any model
  return h;
}

}  // namespace chorus::gossip
