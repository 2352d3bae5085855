// The wire format: encoding round trips, and every way decode_head must refuse a head.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "foundations/wire/message_types.h"
#include "foundations/wire/wire.h"

using namespace chorus;
using namespace chorus::wire;

namespace {

const std::string kAddress = "tcp://127.0.0.1:7000";

struct Built {
  std::vector<std::byte> head;
  Header header;
  ParamHeader params;
};

Built build(PayloadKind kind, Protection protection, std::uint64_t body_bytes) {
  Built b;
  b.header.type = 0x1234;
  b.header.swarm_id = 0xabcdef;
  b.header.sender_id = 99;
  b.header.incarnation = 5;
  b.header.sequence = 77;
  b.header.timestamp_us = 123456789;
  b.header.payload_bytes = body_bytes;
  b.header.kind = kind;
  b.header.protection = protection;
  b.header.cipher = protection == Protection::kNone ? Cipher::kNone : Cipher::kXChaCha20Poly1305;
  b.params.step = 11;
  b.params.tag = 3;
  b.params.count = static_cast<std::uint32_t>(body_bytes / 4);
  b.params.offset = 100;
  b.params.total_elements = 100 + b.params.count + 5;
  b.params.chunk_index = 1;
  b.params.chunk_count = 4;
  b.head.resize(head_bytes(kind, protection, kAddress.size()));
  encode_head(b.header, kAddress, kind == PayloadKind::kParams ? &b.params : nullptr, b.head);
  return b;
}

DecodeResult decode(const std::vector<std::byte>& head, std::uint64_t body, std::uint64_t limit = 1 << 20) {
  return decode_head(head, body, DecodeLimits{limit});
}

void put_u64(std::vector<std::byte>& h, std::size_t off, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) h[off + i] = static_cast<std::byte>(v >> (8 * i));
}
void put_u32(std::vector<std::byte>& h, std::size_t off, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) h[off + i] = static_cast<std::byte>(v >> (8 * i));
}

std::vector<std::byte> float_bytes(const std::vector<float>& v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

const std::size_t kParamOff = kFixedHeaderBytes + kAddress.size();

}  // namespace

TEST_CASE("a head round-trips for every kind and protection") {
  for (auto kind : {PayloadKind::kBytes, PayloadKind::kParams})
    for (auto prot : {Protection::kNone, Protection::kAuthenticated, Protection::kEncrypted}) {
      Built b = build(kind, prot, 64);
      CHECK(b.head.size() == kFixedHeaderBytes + kAddress.size() + (kind == PayloadKind::kParams ? 48 : 0) +
                                 tag_bytes(prot));
      auto r = decode(b.head, 64);
      REQUIRE(r.head.has_value());
      const auto& d = *r.head;
      CHECK(d.header.type == 0x1234);
      CHECK(d.header.swarm_id == 0xabcdef);
      CHECK(d.header.sender_id == 99);
      CHECK(d.header.incarnation == 5);
      CHECK(d.header.sequence == 77);
      CHECK(d.header.timestamp_us == 123456789);
      CHECK(d.header.payload_bytes == 64);
      CHECK(d.header.kind == kind);
      CHECK(d.header.protection == prot);
      CHECK(d.sender_address == kAddress);
      CHECK(d.tag.size() == tag_bytes(prot));
      CHECK(d.authenticated.size() + d.tag.size() == b.head.size());
      CHECK(d.params.has_value() == (kind == PayloadKind::kParams));
      if (d.params) {
        CHECK(d.params->step == 11);
        CHECK(d.params->tag == 3);
        CHECK(d.params->count == 16);
        CHECK(d.params->offset == 100);
        CHECK(d.params->total_elements == 121);
        CHECK(d.params->chunk_index == 1);
        CHECK(d.params->chunk_count == 4);
        CHECK(d.params->dtype == DType::kF32);
      }
    }
}

TEST_CASE("magic and version sit at fixed little-endian offsets") {
  Built b = build(PayloadKind::kBytes, Protection::kNone, 0);
  CHECK(static_cast<char>(b.head[0]) == 'C');
  CHECK(static_cast<char>(b.head[1]) == 'H');
  CHECK(static_cast<char>(b.head[2]) == 'R');
  CHECK(static_cast<char>(b.head[3]) == 'S');
  CHECK(std::to_integer<int>(b.head[4]) == kVersion);
  CHECK(std::to_integer<int>(b.head[5]) == 0);
}

TEST_CASE("every truncation of a head is refused as truncated") {
  for (auto kind : {PayloadKind::kBytes, PayloadKind::kParams}) {
    Built b = build(kind, Protection::kAuthenticated, 8);
    for (std::size_t n = 0; n < b.head.size(); ++n) {
      std::vector<std::byte> cut(b.head.begin(), b.head.begin() + static_cast<std::ptrdiff_t>(n));
      auto r = decode(cut, 8);
      CHECK_FALSE(r.head.has_value());
      CHECK(r.reason == RejectReason::kTruncated);
    }
  }
}

TEST_CASE("a head longer than its fields is refused") {
  Built b = build(PayloadKind::kBytes, Protection::kNone, 4);
  b.head.push_back(std::byte{0});
  auto r = decode(b.head, 4);
  CHECK_FALSE(r.head);
  CHECK(r.reason == RejectReason::kBadLength);
}

TEST_CASE("wrong magic is refused") {
  Built b = build(PayloadKind::kBytes, Protection::kNone, 4);
  b.head[3] = std::byte{'X'};
  auto r = decode(b.head, 4);
  CHECK_FALSE(r.head);
  CHECK(r.reason == RejectReason::kBadMagic);
}

TEST_CASE("another wire version is refused with a message naming both versions") {
  Built b = build(PayloadKind::kBytes, Protection::kNone, 4);
  b.head[4] = static_cast<std::byte>(kVersion + 1);
  auto r = decode(b.head, 4);
  CHECK_FALSE(r.head);
  CHECK(r.reason == RejectReason::kBadVersion);
  CHECK(r.detail.find(std::to_string(kVersion + 1)) != std::string::npos);
  CHECK(r.detail.find(std::to_string(kVersion)) != std::string::npos);
  CHECK(r.detail.find("newer") != std::string::npos);
  b.head[4] = std::byte{0};
  r = decode(b.head, 4);
  CHECK(r.reason == RejectReason::kBadVersion);
  CHECK(r.detail.find("older") != std::string::npos);
  // A newer version is refused even when its head is too short for this version's header:
  // a future format may be shorter.
  std::vector<std::byte> short_head(b.head.begin(), b.head.begin() + 8);
  short_head[4] = static_cast<std::byte>(kVersion + 1);
  CHECK(decode(short_head, 0).reason == RejectReason::kBadVersion);
}

TEST_CASE("length fields larger than the frame are refused") {
  Built b = build(PayloadKind::kBytes, Protection::kNone, 16);
  CHECK(decode(b.head, 15).reason == RejectReason::kBadLength);  // body shorter than the field says
  CHECK(decode(b.head, 17).reason == RejectReason::kBadLength);
  // An address length pointing past the end of the head.
  Built a = build(PayloadKind::kBytes, Protection::kNone, 16);
  a.head[59] = std::byte{200};
  CHECK(decode(a.head, 16).reason == RejectReason::kTruncated);
  // Payload length beyond the limit: oversized, whatever the body.
  Built o = build(PayloadKind::kBytes, Protection::kNone, 16);
  put_u64(o.head, 48, std::numeric_limits<std::uint64_t>::max());
  CHECK(decode(o.head, 16).reason == RejectReason::kOversized);
  put_u64(o.head, 48, (1 << 20) + 1);
  CHECK(decode(o.head, (1 << 20) + 1).reason == RejectReason::kOversized);
  put_u64(o.head, 48, 1 << 20);
  CHECK(decode(o.head, 1 << 20).head.has_value());
}

TEST_CASE("illegal field values are refused as malformed") {
  const auto refused = [](std::size_t off, std::uint8_t value, PayloadKind kind = PayloadKind::kBytes) {
    Built b = build(kind, Protection::kNone, 8);
    b.head[off] = std::byte{value};
    return decode(b.head, 8).reason;
  };
  CHECK(refused(56, 2) == RejectReason::kMalformed);   // kind
  CHECK(refused(57, 3) == RejectReason::kMalformed);   // protection
  CHECK(refused(58, 3) == RejectReason::kMalformed);   // cipher
  CHECK(refused(58, 1) == RejectReason::kMalformed);   // cipher without protection
  CHECK(refused(61, 1) == RejectReason::kMalformed);   // reserved
  CHECK(refused(59, 0) == RejectReason::kMalformed);   // empty address
  CHECK(refused(kFixedHeaderBytes + 3, ' ') == RejectReason::kMalformed);   // address character
  CHECK(refused(kFixedHeaderBytes + 3, 0xff) == RejectReason::kMalformed);
  CHECK(refused(kParamOff + 44, 9, PayloadKind::kParams) == RejectReason::kMalformed);  // dtype
  CHECK(refused(kParamOff + 45, 1, PayloadKind::kParams) == RejectReason::kMalformed);  // reserved
}

TEST_CASE("parameter headers must describe their body") {
  {  // count disagrees with the body length
    Built b = build(PayloadKind::kParams, Protection::kNone, 16);
    put_u32(b.head, kParamOff + 32, 5);
    CHECK(decode(b.head, 16).reason == RejectReason::kBadLength);
  }
  {  // a body that is not a whole number of elements
    Built b = build(PayloadKind::kParams, Protection::kNone, 16);
    put_u64(b.head, 48, 17);
    CHECK(decode(b.head, 17).reason == RejectReason::kBadLength);
  }
  {  // offset + count beyond total, including overflow
    Built b = build(PayloadKind::kParams, Protection::kNone, 16);
    put_u64(b.head, kParamOff + 16, 103);  // total 103 < offset 100 + count 4
    CHECK(decode(b.head, 16).reason == RejectReason::kBadLength);
    put_u64(b.head, kParamOff + 16, 50);  // offset > total
    CHECK(decode(b.head, 16).reason == RejectReason::kBadLength);
    put_u64(b.head, kParamOff + 16, std::numeric_limits<std::uint64_t>::max());
    put_u64(b.head, kParamOff + 24, std::numeric_limits<std::uint64_t>::max() - 1);
    CHECK(decode(b.head, 16).reason == RejectReason::kBadLength);
  }
  {  // chunk index not below chunk count
    Built b = build(PayloadKind::kParams, Protection::kNone, 16);
    put_u32(b.head, kParamOff + 36, 4);
    CHECK(decode(b.head, 16).reason == RejectReason::kMalformed);
    put_u32(b.head, kParamOff + 36, 0);
    put_u32(b.head, kParamOff + 40, 0);
    CHECK(decode(b.head, 16).reason == RejectReason::kMalformed);
  }
}

TEST_CASE("random corruption never escapes decode_head") {
  std::mt19937_64 rng(12345);
  const Built base = build(PayloadKind::kParams, Protection::kEncrypted, 64);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> h = base.head;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) h[rng() % h.size()] = static_cast<std::byte>(rng());
    if (rng() % 4 == 0) h.resize(rng() % (h.size() + 8), std::byte{0});
    const auto r = decode(h, rng() % 2 ? 64 : rng() % 256);
    if (r.head) {
      ++accepted;
      // Whatever was accepted is self-consistent.
      CHECK(r.head->authenticated.size() + r.head->tag.size() == h.size());
      if (r.head->params)
        CHECK(r.head->params->offset + r.head->params->count <= r.head->params->total_elements);
    } else {
      CHECK_FALSE(r.detail.empty());
    }
  }
  // Flipping bytes in fields without checks (ids, sequence, tag) leaves heads decodable.
  CHECK(accepted > 0);
  CHECK(accepted < 20000);
}

TEST_CASE("all_finite_f32 finds NaN and infinities anywhere, aligned or not") {
  std::vector<float> v(5000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f - 1000.f;
  v[10] = std::numeric_limits<float>::max();
  v[11] = std::numeric_limits<float>::denorm_min();
  v[12] = -0.0f;
  CHECK(all_finite_f32(std::as_bytes(std::span(v))));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::signaling_NaN(),
                    std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::quiet_NaN()})
    // Positions in the vector loop's first blocks, its last whole block and the tail.
    for (std::size_t at : {0, 17, 40, 63, 1023, 1024, 4991, 4992, 4999}) {
      auto w = v;
      w[at] = bad;
      CHECK_FALSE(all_finite_f32(std::as_bytes(std::span(w))));
      // Unaligned copy of the same values.
      std::vector<std::byte> raw(w.size() * 4 + 1);
      std::memcpy(raw.data() + 1, w.data(), w.size() * 4);
      CHECK_FALSE(all_finite_f32(std::span(raw).subspan(1)));
    }
  CHECK(all_finite_f32({}));
  CHECK(all_finite_f32(float_bytes({1.f, 2.f})));
}

namespace {
// Whether msg::kMembership.at(Offset) compiles.
template <std::uint16_t Offset>
concept names_a_membership_type =
    requires { typename std::integral_constant<std::uint16_t, msg::kMembership.at(Offset)>; };
}  // namespace

TEST_CASE("a message type is its family's first plus an offset that stays inside the family") {
  static_assert(msg::kMembership.at(0) == 0x0100 && msg::kMembership.at(0xff) == 0x01ff);
  static_assert(msg::kGossip.at(1) == 0x0401 && msg::kTest.at(7) == 0x0f07);
  static_assert(names_a_membership_type<0xff>);
  static_assert(!names_a_membership_type<0x100>);  // outside the family: does not compile
  static_assert(!names_a_membership_type<0xffff>);
  CHECK(msg::kCollective.contains(msg::kCollective.at(0x42)));
  CHECK(TypeRange::only(msg::kTest.at(3)).contains(0x0f03));
}
