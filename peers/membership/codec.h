#pragma once
// The membership messages and their compact binary encoding.
//
// Every message (all integers little-endian):
//   u8  format (kFormat)
//   sender's own record: u64 incarnation, u64 version, u8 state (alive or left), str group,
//     str metadata (its id and address are the transport's, which authenticates them)
//   per type:
//     ping, ack     u64 sequence, u64 target id
//     ping-req      u64 sequence, u64 target id, str target address
//     sync          u8 flags (bit 0: reply wanted, bit 1: answers a join)
//     join, gossip  nothing
//   u16 record count, then the records (piggybacked updates; for join and sync the sender's
//     whole table): u64 id, u64 incarnation, u64 version, u8 state,
//     u64 accuser, str address, str group, str metadata
// where str is u8 length + bytes (printable ASCII; addresses 1..255, groups and metadata 0..255).
// Format 2 added the metadata (Member::meta).
//
// decode() trusts nothing: it checks the format, every enum and string, the limits
// (incarnations and versions below 2^62, ids non-zero, at most kMaxRecords records, whose
// count must fit in the bytes present before anything is allocated) and that no byte is left
// over. Encoding and decoding are pure and thread-safe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "foundations/wire/message_types.h"
#include "peers/membership/member_table.h"

namespace chorus::membership {

// Message types of the msg::kMembership family.
inline constexpr std::uint16_t kPing = msg::kMembership.at(1);
inline constexpr std::uint16_t kAck = msg::kMembership.at(2);
inline constexpr std::uint16_t kPingReq = msg::kMembership.at(3);
inline constexpr std::uint16_t kJoin = msg::kMembership.at(4);
inline constexpr std::uint16_t kSync = msg::kMembership.at(5);
inline constexpr std::uint16_t kGossip = msg::kMembership.at(6);

inline constexpr std::uint8_t kFormat = 2;
inline constexpr std::size_t kMaxRecords = 4096;  // also the member table's capacity
inline constexpr std::uint64_t kMaxCounter = 1ull << 62;  // incarnations and versions stay below

inline constexpr std::uint8_t kSyncReplyWanted = 1;
inline constexpr std::uint8_t kSyncAnswersJoin = 2;

struct SenderRecord {
  std::uint64_t incarnation = 0;
  std::uint64_t version = 0;
  MemberState state = MemberState::alive;  // alive, or left when it departs
  std::string group;
  std::string meta;
};

struct Message {
  std::uint16_t type = 0;
  SenderRecord sender;
  std::uint64_t sequence = 0;   // ping, ack, ping-req
  PeerId target = 0;            // ping, ack, ping-req: the member probed
  std::string target_address;   // ping-req
  std::uint8_t sync_flags = 0;  // sync
  std::vector<MemberRecord> records;  // piggybacked updates, or the full table (sync)
};

// Encoded size of one record, for budgeting piggybacked updates.
std::size_t encoded_size(const MemberRecord& record);

// Throws InvariantError for a message that cannot be encoded (too many records, a string
// too long): the protocol never builds one.
std::vector<std::byte> encode(const Message& message);

struct Decoded {
  std::optional<Message> message;  // set on success
  std::string error;               // why not, otherwise
};
Decoded decode(std::uint16_t type, std::span<const std::byte> bytes);

// Whether a label or address may go on the wire: printable ASCII, at most 255 bytes.
bool is_wire_string(const std::string& s);

}  // namespace chorus::membership
