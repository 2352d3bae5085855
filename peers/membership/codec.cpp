#include "peers/membership/codec.h"

#include <fmt/format.h>

#include "foundations/base/error.h"
#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"

namespace chorus::membership {

namespace {

constexpr std::size_t kMinRecordBytes = 8 + 8 + 8 + 1 + 8 + 1 + 1 + 1;  // a 0-length address is refused later

bool known_type(std::uint16_t t) { return t >= kPing && t <= kGossip; }
bool probes(std::uint16_t t) { return t == kPing || t == kAck || t == kPingReq; }

// What is wrong with a decoded field, or "" when nothing is.
std::string counter_problem(std::uint64_t v, const char* what) {
  return v >= kMaxCounter ? fmt::format("{} {} out of range", what, v) : std::string();
}
std::string state_problem(std::uint8_t v) {
  return v > static_cast<std::uint8_t>(MemberState::left) ? fmt::format("member state {}", v) : std::string();
}
std::string string_problem(const std::string& s, bool allow_empty, const char* what) {
  if (s.empty() && !allow_empty) return fmt::format("empty {}", what);
  if (!is_wire_string(s)) return fmt::format("{} holds a non-printable byte", what);
  return {};
}

}  // namespace

bool is_wire_string(const std::string& s) {
  if (s.size() > 255) return false;
  for (char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

std::size_t encoded_size(const MemberRecord& r) {
  return kMinRecordBytes + r.member.address.size() + r.member.group.size() + r.member.meta.size();
}

std::vector<std::byte> encode(const Message& m) {
  CHORUS_CHECK(known_type(m.type), "unknown membership message type");
  CHORUS_CHECK(m.records.size() <= kMaxRecords, "too many membership records in one message");
  wire::ByteWriter w;
  w.u8(kFormat);
  w.u64(m.sender.incarnation);
  w.u64(m.sender.version);
  w.u8(static_cast<std::uint8_t>(m.sender.state));
  w.str8(m.sender.group);
  w.str8(m.sender.meta);
  if (probes(m.type)) {
    w.u64(m.sequence);
    w.u64(m.target);
    if (m.type == kPingReq) w.str8(m.target_address);
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
    w.str8(r.member.address);
    w.str8(r.member.group);
    w.str8(r.member.meta);
  }
  return w.take();
}

Decoded decode(std::uint16_t type, std::span<const std::byte> bytes) {
  Decoded out;
  const auto failed = [&](std::string why) {
    out.error = std::move(why);
    return out;
  };
  if (!known_type(type)) return failed(fmt::format("unknown membership message type 0x{:04x}", type));
  wire::ByteReader r(bytes);
  Message m;
  m.type = type;
  const std::uint8_t format = r.u8();
  if (!r.ok()) return failed("truncated");
  if (format != kFormat) return failed(fmt::format("membership format {}, this chorus speaks {}", format, kFormat));
  m.sender.incarnation = r.u64();
  m.sender.version = r.u64();
  const std::uint8_t sender_state = r.u8();
  m.sender.group = r.str8();
  m.sender.meta = r.str8();
  if (!r.ok()) return failed("truncated");
  for (const std::string& why :
       {counter_problem(m.sender.incarnation, "sender incarnation"), counter_problem(m.sender.version, "sender version"),
        state_problem(sender_state), string_problem(m.sender.group, true, "sender group"),
        string_problem(m.sender.meta, true, "sender metadata")})
    if (!why.empty()) return failed(why);
  m.sender.state = static_cast<MemberState>(sender_state);
  if (m.sender.state != MemberState::alive && m.sender.state != MemberState::left)
    return failed(fmt::format("a sender cannot say it is {}", member_state_name(m.sender.state)));
  if (probes(type)) {
    m.sequence = r.u64();
    m.target = r.u64();
    if (type == kPingReq) m.target_address = r.str8();
    if (!r.ok()) return failed("truncated");
    if (m.target == 0) return failed("target id 0");
    if (type == kPingReq) {
      if (std::string why = string_problem(m.target_address, false, "target address"); !why.empty()) return failed(why);
    }
  } else if (type == kSync) {
    m.sync_flags = r.u8();
    if (!r.ok()) return failed("truncated");
    if (m.sync_flags & ~(kSyncReplyWanted | kSyncAnswersJoin)) return failed(fmt::format("sync flags {}", m.sync_flags));
  }
  const std::uint16_t count = r.u16();
  if (!r.ok()) return failed("truncated");
  if (count > kMaxRecords) return failed(fmt::format("{} records, at most {}", count, kMaxRecords));
  if (static_cast<std::size_t>(count) * kMinRecordBytes > r.remaining())
    return failed(fmt::format("{} records cannot fit in {} bytes", count, r.remaining()));
  m.records.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    MemberRecord rec;
    rec.member.id = r.u64();
    rec.member.incarnation = r.u64();
    rec.version = r.u64();
    const std::uint8_t state = r.u8();
    rec.accuser = r.u64();
    rec.member.address = r.str8();
    rec.member.group = r.str8();
    rec.member.meta = r.str8();
    if (!r.ok()) return failed("truncated");
    for (const std::string& why :
         {counter_problem(rec.member.incarnation, "incarnation"), counter_problem(rec.version, "version"),
          state_problem(state), string_problem(rec.member.address, false, "address"),
          string_problem(rec.member.group, true, "group"), string_problem(rec.member.meta, true, "metadata")})
      if (!why.empty()) return failed(why);
    rec.state = static_cast<MemberState>(state);
    if (rec.member.id == 0) return failed("member id 0");
    if (rec.state == MemberState::suspect && rec.accuser == 0) return failed("a suspicion without an accuser");
    if (rec.state != MemberState::suspect && rec.accuser != 0) return failed("an accuser without a suspicion");
    m.records.push_back(std::move(rec));
  }
  if (!r.finished()) return failed(fmt::format("{} bytes left over", r.remaining()));
  out.message = std::move(m);
  return out;
}

}  // namespace chorus::membership
