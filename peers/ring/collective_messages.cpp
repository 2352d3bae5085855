#include "peers/ring/collective_messages.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "topology/hash_order.h"

namespace chorus::ring {

namespace {

constexpr std::uint8_t kLayout = 1;       // layout version of these messages
constexpr std::size_t kMaxListed = 4096;  // longest member / key list a message may carry

class Writer {
 public:
  explicit Writer(std::uint8_t layout) { bytes_.push_back(std::byte{layout}); }
  void u8(std::uint8_t v) { bytes_.push_back(std::byte{v}); }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  std::vector<std::byte> take() { return std::move(bytes_); }

 private:
  void raw(const void* p, std::size_t n) {
    static_assert(std::endian::native == std::endian::little, "chorus assumes a little-endian host");
    const auto* b = static_cast<const std::byte*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  std::vector<std::byte> bytes_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {
    std::uint8_t layout = 0;
    ok_ = u8(layout) && layout == kLayout;
  }
  bool u8(std::uint8_t& v) { return raw(&v, 1); }
  bool u32(std::uint32_t& v) { return raw(&v, 4); }
  bool u64(std::uint64_t& v) { return raw(&v, 8); }
  bool list(std::vector<std::uint64_t>& out) {
    std::uint32_t n = 0;
    if (!u32(n) || n > kMaxListed || bytes_.size() - pos_ < std::size_t{n} * 8) return ok_ = false;
    out.resize(n);
    for (auto& v : out) u64(v);
    return ok_;
  }
  bool finished() const { return ok_ && pos_ == bytes_.size(); }

 private:
  bool raw(void* p, std::size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) return ok_ = false;
    std::memcpy(p, bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

void put_list(Writer& w, const std::vector<std::uint64_t>& list) {
  w.u32(static_cast<std::uint32_t>(list.size()));
  for (auto v : list) w.u64(v);
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return splitmix64(h ^ splitmix64(v)); }

}  // namespace

std::vector<std::byte> encode(const Hello& m) {
  Writer w(kLayout);
  w.u64(m.key);
  w.u64(m.scope);
  w.u64(m.round);
  w.u64(m.view);
  put_list(w, m.members);
  w.u32(m.generation);
  return w.take();
}

std::vector<std::byte> encode(const AbortNotice& m) {
  Writer w(kLayout);
  w.u64(m.key);
  w.u64(m.scope);
  w.u64(m.round);
  return w.take();
}

std::vector<std::byte> encode(const Query& m) {
  Writer w(kLayout);
  w.u64(m.scope);
  w.u64(m.round);
  put_list(w, m.attempted);
  return w.take();
}

std::vector<std::byte> encode(const Answer& m) {
  Writer w(kLayout);
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

std::vector<std::byte> encode_greeting() { return Writer(kLayout).take(); }

bool decode_greeting(std::span<const std::byte> bytes) { return Reader(bytes).finished(); }

std::optional<Hello> decode_hello(std::span<const std::byte> bytes) {
  Reader r(bytes);
  Hello m;
  if (r.u64(m.key) && r.u64(m.scope) && r.u64(m.round) && r.u64(m.view) && r.list(m.members) &&
      r.u32(m.generation) && r.finished())
    return m;
  return std::nullopt;
}

std::optional<AbortNotice> decode_abort(std::span<const std::byte> bytes) {
  Reader r(bytes);
  AbortNotice m;
  if (r.u64(m.key) && r.u64(m.scope) && r.u64(m.round) && r.finished()) return m;
  return std::nullopt;
}

std::optional<Query> decode_query(std::span<const std::byte> bytes) {
  Reader r(bytes);
  Query m;
  if (r.u64(m.scope) && r.u64(m.round) && r.list(m.attempted) && r.finished()) return m;
  return std::nullopt;
}

std::optional<Answer> decode_answer(std::span<const std::byte> bytes) {
  Reader r(bytes);
  Answer m;
  std::uint8_t kind = 0;
  if (!(r.u64(m.scope) && r.u64(m.round) && r.u8(kind) && r.u64(m.answerer_round) && r.u64(m.view) && r.u64(m.elements) &&
        r.u32(m.contributors) && r.u64(m.member_set) && r.finished()))
    return std::nullopt;
  if (kind < 1 || kind > 4) return std::nullopt;
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
