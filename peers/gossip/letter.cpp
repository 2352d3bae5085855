#include "peers/gossip/letter.h"

#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"

namespace chorus::gossip {
namespace {

constexpr std::uint8_t kVersion = 1;

}  // namespace

std::vector<std::byte> encode(const LetterHead& h) {
  wire::ByteWriter w;
  w.reserve(kLetterHeadBytes);
  w.u8(kVersion);
  w.u16(h.kind);
  w.u64(h.id);
  w.u64(h.ref);
  w.u64(h.round);
  w.i64(h.step);
  w.i64(h.since_start);
  w.u64(h.view);
  w.f64(h.value);
  w.u64(h.a);
  w.u64(h.b);
  w.u64(h.count);
  return w.take();
}

std::optional<LetterHead> decode(std::span<const std::byte> in) {
  wire::ByteReader r(in);
  if (r.u8() != kVersion) r.fail();
  LetterHead h;
  h.kind = r.u16();
  h.id = r.u64();
  h.ref = r.u64();
  h.round = r.u64();
  h.step = r.i64();
  h.since_start = r.i64();
  h.view = r.u64();
  h.value = r.f64();
  h.a = r.u64();
  h.b = r.u64();
  h.count = r.u64();
  if (h.count > (std::uint64_t{1} << 34)) r.fail();  // far beyond any model
  if (!r.finished()) return std::nullopt;
  return h;
}

}  // namespace chorus::gossip
