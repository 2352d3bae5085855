#include "peers/gossip/letter.h"

#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"

namespace chorus::gossip {
namespace {

constexpr std::uint8_t kVersion = 1;

// The two kind-specific words of a head (LetterHead's per-kind fields), in wire order.
struct Words {
  std::uint64_t first = 0, second = 0;
};

Words words_of(const LetterHead& h) {
  switch (h.kind) {
    case kElasticNack: return {h.nack.clock, 0};
    case kStoreRequest: return {h.store.shard, static_cast<std::uint64_t>(h.store.op)};
    case kStoreReply: return {h.store.shard, static_cast<std::uint64_t>(h.store.status)};
    case kStoreCopy: return {h.store.shard, h.store.version};
    case kLeaderFetch: return {h.fetch.pulled ? 1u : 0u, h.fetch.incarnation};
    default: return {};
  }
}

void set_words(LetterHead& h, Words w) {
  switch (h.kind) {
    case kElasticNack: h.nack.clock = w.first; break;
    case kStoreRequest:
      h.store.shard = w.first;
      h.store.op = static_cast<StoreOp>(w.second);
      break;
    case kStoreReply:
      h.store.shard = w.first;
      h.store.status = static_cast<StoreStatus>(w.second);
      break;
    case kStoreCopy:
      h.store.shard = w.first;
      h.store.version = w.second;
      break;
    case kLeaderFetch:
      h.fetch.pulled = w.first == 1;
      h.fetch.incarnation = w.second;
      break;
    default: break;
  }
}

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
  const Words words = words_of(h);
  w.u64(words.first);
  w.u64(words.second);
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
  Words words;
  words.first = r.u64();
  words.second = r.u64();
  h.count = r.u64();
  if (h.count > (std::uint64_t{1} << 34)) r.fail();  // far beyond any model
  if (!r.finished()) return std::nullopt;
  set_words(h, words);
  return h;
}

}  // namespace chorus::gossip
