#include "peers/membership/codec.h"

#include <fmt/format.h>

#include "foundations/base/error.h"

namespace chorus::membership {

namespace {

constexpr std::size_t kMinRecordBytes = 8 + 8 + 8 + 1 + 8 + 1 + 1;  // a 0-length address is refused later

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u64(std::uint64_t v) { le(v, 8); }
  void str(const std::string& s) {
    CHORUS_CHECK(s.size() <= 255, "a membership string is at most 255 bytes");
    u8(static_cast<std::uint8_t>(s.size()));
    for (char c : s) out_.push_back(static_cast<std::byte>(c));
  }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  void le(std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  }
  std::vector<std::byte> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    if (left() < 1) return fail("truncated");
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool u16(std::uint16_t& v) {
    std::uint64_t x;
    if (!le(x, 2)) return false;
    v = static_cast<std::uint16_t>(x);
    return true;
  }
  bool u64(std::uint64_t& v) { return le(v, 8); }
  bool counter(std::uint64_t& v, const char* what) {
    if (!u64(v)) return false;
    if (v >= kMaxCounter) return fail(fmt::format("{} {} out of range", what, v));
    return true;
  }
  bool str(std::string& s, bool allow_empty, const char* what) {
    std::uint8_t n;
    if (!u8(n)) return false;
    if (n == 0 && !allow_empty) return fail(fmt::format("empty {}", what));
    if (left() < n) return fail("truncated");
    s.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const char c = static_cast<char>(in_[pos_ + i]);
      if (c <= 0x20 || c >= 0x7f) return fail(fmt::format("{} holds a non-printable byte", what));
      s[i] = c;
    }
    pos_ += n;
    return true;
  }
  bool state(MemberState& s) {
    std::uint8_t v;
    if (!u8(v)) return false;
    if (v > static_cast<std::uint8_t>(MemberState::left)) return fail(fmt::format("member state {}", v));
    s = static_cast<MemberState>(v);
    return true;
  }
  std::size_t left() const { return in_.size() - pos_; }
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  bool le(std::uint64_t& v, int bytes) {
    if (left() < static_cast<std::size_t>(bytes)) return fail("truncated");
    v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += static_cast<std::size_t>(bytes);
    return true;
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  std::string error_;
};

bool known_type(std::uint16_t t) { return t >= kPing && t <= kGossip; }
bool probes(std::uint16_t t) { return t == kPing || t == kAck || t == kPingReq; }

}  // namespace

bool is_wire_string(const std::string& s) {
  if (s.size() > 255) return false;
  for (char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

std::size_t encoded_size(const MemberRecord& r) {
  return kMinRecordBytes + r.member.address.size() + r.member.group.size();
}

std::vector<std::byte> encode(const Message& m) {
  CHORUS_CHECK(known_type(m.type), "unknown membership message type");
  CHORUS_CHECK(m.records.size() <= kMaxRecords, "too many membership records in one message");
  Writer w;
  w.u8(kFormat);
  w.u64(m.sender.incarnation);
  w.u64(m.sender.version);
  w.u8(static_cast<std::uint8_t>(m.sender.state));
  w.str(m.sender.group);
  if (probes(m.type)) {
    w.u64(m.sequence);
    w.u64(m.target);
    if (m.type == kPingReq) w.str(m.target_address);
  } else if (m.type == kSync) {
    w.u8(m.sync_flags);
  }
  w.u16(static_cast<std::uint16_t>(m.records.size()));
  for (const MemberRecord& r : m.records) {
    w.u64(r.member.id);
    w.u64(r.member.incarnation);
    w.u64(r.version);
    w.u8(static_cast<std::uint8_t>(r.state));
    w.u64(r.accuser);
    w.str(r.member.address);
    w.str(r.member.group);
  }
  return w.take();
}

Decoded decode(std::uint16_t type, std::span<const std::byte> bytes) {
  Decoded out;
  if (!known_type(type)) {
    out.error = fmt::format("unknown membership message type 0x{:04x}", type);
    return out;
  }
  Reader r(bytes);
  Message m;
  m.type = type;
  std::uint8_t format = 0;
  const auto failed = [&](const std::string& fallback) {
    out.error = r.error().empty() ? fallback : r.error();
    return out;
  };
  if (!r.u8(format)) return failed("truncated");
  if (format != kFormat) return failed(fmt::format("membership format {}, this chorus speaks {}", format, kFormat));
  if (!r.counter(m.sender.incarnation, "sender incarnation") || !r.counter(m.sender.version, "sender version") ||
      !r.state(m.sender.state) || !r.str(m.sender.group, true, "sender group"))
    return failed("bad sender record");
  if (m.sender.state != MemberState::alive && m.sender.state != MemberState::left)
    return failed(fmt::format("a sender cannot say it is {}", member_state_name(m.sender.state)));
  if (probes(type)) {
    if (!r.u64(m.sequence) || !r.u64(m.target)) return failed("truncated");
    if (m.target == 0) return failed("target id 0");
    if (type == kPingReq && !r.str(m.target_address, false, "target address")) return failed("bad target address");
  } else if (type == kSync) {
    if (!r.u8(m.sync_flags)) return failed("truncated");
    if (m.sync_flags & ~(kSyncReplyWanted | kSyncAnswersJoin)) return failed(fmt::format("sync flags {}", m.sync_flags));
  }
  std::uint16_t count = 0;
  if (!r.u16(count)) return failed("truncated");
  if (count > kMaxRecords) return failed(fmt::format("{} records, at most {}", count, kMaxRecords));
  if (static_cast<std::size_t>(count) * kMinRecordBytes > r.left())
    return failed(fmt::format("{} records cannot fit in {} bytes", count, r.left()));
  m.records.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    MemberRecord rec;
    if (!r.u64(rec.member.id) || !r.counter(rec.member.incarnation, "incarnation") ||
        !r.counter(rec.version, "version") || !r.state(rec.state) || !r.u64(rec.accuser) ||
        !r.str(rec.member.address, false, "address") || !r.str(rec.member.group, true, "group"))
      return failed("bad record");
    if (rec.member.id == 0) return failed("member id 0");
    if (rec.state == MemberState::suspect && rec.accuser == 0) return failed("a suspicion without an accuser");
    if (rec.state != MemberState::suspect && rec.accuser != 0) return failed("an accuser without a suspicion");
    m.records.push_back(std::move(rec));
  }
  if (r.left() != 0) return failed(fmt::format("{} bytes left over", r.left()));
  out.message = std::move(m);
  return out;
}

}  // namespace chorus::membership
