#include "peers/ring/collective_messages.h"

#include <algorithm>
#include <bit>
#include <string>

#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"
#include "topology/hash_order.h"

namespace chorus::ring {

namespace {

constexpr std::uint8_t kLayout = 1;       // layout version of these messages
constexpr std::size_t kMaxListed = 4096;  // longest member / key list a message may carry

// Every message starts with the layout byte.
wire::ByteWriter writer() {
  wire::ByteWriter w;
  w.u8(kLayout);
  return w;
}

// A reader past the layout byte (failed when the byte is missing or another layout's).
wire::ByteReader reader(std::span<const std::byte> bytes) {
  wire::ByteReader r(bytes);
  if (r.u8() != kLayout) r.fail();
  return r;
}

void put_list(wire::ByteWriter& w, const std::vector<std::uint64_t>& list) {
  w.u32(static_cast<std::uint32_t>(list.size()));
  w.u64s(list);
}

// A u32 count (at most kMaxListed), then that many u64 values.
std::vector<std::uint64_t> get_list(wire::ByteReader& r) {
  const std::uint32_t n = r.u32();
  if (n > kMaxListed) r.fail();
  return r.u64s(n);
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return splitmix64(h ^ splitmix64(v)); }

}  // namespace

std::vector<std::byte> encode(const Hello& m) {
  wire::ByteWriter w = writer();
  w.u64(m.key);
  w.u64(m.scope);
  w.u64(m.round);
  w.u64(m.view);
  put_list(w, m.members);
  w.u32(m.generation);
  return w.take();
}

std::vector<std::byte> encode(const AbortNotice& m) {
  wire::ByteWriter w = writer();
  w.u64(m.key);
  w.u64(m.scope);
  w.u64(m.round);
  return w.take();
}

std::vector<std::byte> encode(const Query& m) {
  wire::ByteWriter w = writer();
  w.u64(m.scope);
  w.u64(m.round);
  put_list(w, m.attempted);
  return w.take();
}

std::vector<std::byte> encode(const Answer& m) {
  wire::ByteWriter w = writer();
  w.u64(m.scope);
  w.u64(m.round);
  w.u8(static_cast<std::uint8_t>(m.kind));
  w.u64(m.answerer_round);
  w.u64(m.view);
  w.u64(m.elements);
  w.u32(m.contributors);
  w.u64(m.member_set);
  return w.take();
}



std::optional<Hello> decode_hello(std::span<const std::byte> bytes) {
  wire::ByteReader r = reader(bytes);
  Hello m;
  m.key = r.u64();
  m.scope = r.u64();
  m.round = r.u64();
  m.view = r.u64();
  m.members = get_list(r);
  m.generation = r.u32();
  if (!r.finished()) return std::nullopt;
  return m;
}

std::optional<AbortNotice> decode_abort(std::span<const std::byte> bytes) {
  wire::ByteReader r = reader(bytes);
  AbortNotice m;
  m.key = r.u64();
  m.scope = r.u64();
  m.round = r.u64();
  if (!r.finished()) return std::nullopt;
  return m;
}

std::optional<Query> decode_query(std::span<const std::byte> bytes) {
  wire::ByteReader r = reader(bytes);
  Query m;
  m.scope = r.u64();
  m.round = r.u64();
  m.attempted = get_list(r);
  if (!r.finished()) return std::nullopt;
  return m;
}

std::optional<Answer> decode_answer(std::span<const std::byte> bytes) {
  wire::ByteReader r = reader(bytes);
  Answer m;
  m.scope = r.u64();
  m.round = r.u64();
  const std::uint8_t kind = r.u8();
  m.answerer_round = r.u64();
  m.view = r.u64();
  m.elements = r.u64();
  m.contributors = r.u32();
  m.member_set = r.u64();
  if (kind < 1 || kind > 4) r.fail();
  if (!r.finished()) return std::nullopt;
  m.kind = static_cast<AnswerKind>(kind);
  return m;
}

namespace {
std::uint64_t key_of(std::uint64_t scope, std::uint64_t round, std::uint64_t view, const std::vector<PeerId>& ids,
                     std::uint32_t generation) {
  std::uint64_t h = mix(mix(mix(0x636f6c6c65637431ull, scope), round), view);
  for (PeerId id : ids) h = mix(h, id);
  if (generation > 0) h = mix(h ^ 0x67656e6572617469ull, generation);
  return h ? h : 1;
}
}  // namespace

std::vector<PeerId> member_ids(const RingView& view) {
  std::vector<PeerId> ids;
  ids.reserve(view.members.size());
  for (const auto& m : view.members) ids.push_back(m.id);
  return ids;
}

std::uint64_t attempt_key(std::uint64_t scope, std::uint64_t round, const RingView& view, std::uint32_t generation) {
  return key_of(scope, round, view.number, member_ids(view), generation);
}

std::uint64_t view_key(const Hello& h) { return key_of(h.scope, h.round, h.view, h.members, 0); }

std::uint64_t member_set_hash(const RingView& view) {
  std::vector<PeerId> ids = member_ids(view);
  std::sort(ids.begin(), ids.end());
  std::uint64_t h = 0x6d656d6265727331ull;
  for (PeerId id : ids) h = mix(h, id);
  return h;
}

std::uint64_t result_tag(std::uint64_t scope, std::uint64_t round) {
  return mix(mix(0x726573756c747331ull, scope), round);
}

std::uint64_t weight_bits(double weight) { return std::bit_cast<std::uint64_t>(weight); }
double weight_from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }

}  // namespace chorus::ring
