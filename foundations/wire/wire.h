#pragma once
// The chorus wire format: how one message between two peers is laid out in bytes.
//
// A frame is carried as exactly two ZeroMQ message parts (the in-process transport carries the
// same two parts):
//
//   part 0, the head:  fixed header (64 bytes) | sender address | payload header | tag
//   part 1, the body:  payload bytes (payload_bytes of them; may be empty)
//
// The body is a separate part so that a parameter chunk can be sent straight from the caller's
// float buffer (no copy) and received into a buffer of its own that a reducer can read in place.
//
// Fixed header, all integers little-endian:
//   off size field
//    0   4   magic          "CHRS"
//    4   2   version        wire version of the sender (kVersion)
//    6   2   type           message type, chosen by the layer above (membership, ring, ...)
//    8   8   swarm_id       which swarm (derived from the swarm key; configured without one)
//   16   8   sender_id      the sender's peer id
//   24   8   incarnation    the sender's process incarnation (start time in microseconds)
//   32   8   sequence       per (sender, incarnation), strictly increasing over all its frames
//   40   8   timestamp_us   the sender's wall clock at sealing, for the replay time window
//   48   8   payload_bytes  length of the body part
//   56   1   kind           PayloadKind: opaque bytes, or parameters (payload header follows)
//   57   1   protection     Protection: none, authenticated, encrypted
//   58   1   cipher         Cipher used for the tag (and encryption); kNone iff protection none
//   59   1   address_bytes  length of the sender address that follows (1..255)
//   60   4   reserved       zero
// then the sender's bound address (ASCII, the address other peers reach it at), then for
// kind == kParams the 48-byte payload header (ParamHeader), then the tag: 0 bytes without
// protection, 16 when encrypted, 32 when authenticated only (see frame_cipher.h).
//
// Versioning: magic and version sit at the same offsets in every version, so any chorus can
// read them and refuse a frame of another version with a message naming both versions. A
// receiver accepts versions in [kOldestAcceptedVersion, kVersion].
//
// Decoding never trusts a length field: every length is checked against the bytes present and
// the limits before anything is read (see decode_head). Decoding is pure and thread-safe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "foundations/wire/rejection.h"

namespace chorus::wire {

inline constexpr std::uint32_t kMagic = 0x53524843;  // bytes 'C' 'H' 'R' 'S'
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint16_t kOldestAcceptedVersion = 1;
inline constexpr std::size_t kFixedHeaderBytes = 64;
inline constexpr std::size_t kMaxAddressBytes = 255;
inline constexpr std::size_t kParamHeaderBytes = 48;
inline constexpr std::size_t kEncryptedTagBytes = 16;
inline constexpr std::size_t kAuthenticatedTagBytes = 32;
// The longest head any frame can have: the fixed header, the longest address, a payload
// header and the longest tag.
inline constexpr std::size_t kMaxHeadBytes =
    kFixedHeaderBytes + kMaxAddressBytes + kParamHeaderBytes + kAuthenticatedTagBytes;

enum class PayloadKind : std::uint8_t { kBytes = 0, kParams = 1 };
enum class Protection : std::uint8_t { kNone = 0, kAuthenticated = 1, kEncrypted = 2 };
enum class Cipher : std::uint8_t { kNone = 0, kAes256Gcm = 1, kXChaCha20Poly1305 = 2 };
enum class DType : std::uint8_t { kF32 = 1 };

std::size_t dtype_bytes(DType dtype);  // 0 for an unknown value
std::size_t tag_bytes(Protection protection);
const char* protection_name(Protection protection);
const char* cipher_name(Cipher cipher);

struct Header {
  std::uint16_t version = kVersion;
  std::uint16_t type = 0;
  std::uint64_t swarm_id = 0;
  std::uint64_t sender_id = 0;
  std::uint64_t incarnation = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_us = 0;
  std::uint64_t payload_bytes = 0;
  PayloadKind kind = PayloadKind::kBytes;
  Protection protection = Protection::kNone;
  Cipher cipher = Cipher::kNone;
};

// The payload header of a parameter chunk: which part of which logical buffer the body holds.
// A logical buffer of total_elements elements is sent as chunk_count chunks; this one holds
// elements [offset, offset + count).
struct ParamHeader {
  std::uint64_t step = 0;            // the sender's training step
  std::uint64_t tag = 0;             // free for the layer above (round, segment, ...)
  std::uint64_t total_elements = 0;  // elements in the whole logical buffer
  std::uint64_t offset = 0;          // first element of this chunk within it
  std::uint32_t count = 0;           // elements in this chunk: payload_bytes / dtype size
  std::uint32_t chunk_index = 0;
  std::uint32_t chunk_count = 1;
  DType dtype = DType::kF32;
};

// Bytes of the head for a frame with this kind, protection and address length.
std::size_t head_bytes(PayloadKind kind, Protection protection, std::size_t address_bytes);

// Writes the head (everything but the tag, which the sealer fills in) into `out`, which must
// hold exactly head_bytes(...) bytes. `params` is required iff header.kind == kParams.
// Throws InvariantError for arguments that violate the format (an address too long, ...).
void encode_head(const Header& header, std::string_view sender_address,
                 const ParamHeader* params, std::span<std::byte> out);

struct DecodeLimits {
  std::uint64_t max_payload_bytes = 64ull << 20;
};

// A decoded head; the views point into the bytes passed to decode_head.
struct DecodedHead {
  Header header;
  std::string_view sender_address;
  std::optional<ParamHeader> params;
  std::span<const std::byte> authenticated;  // the head without its tag
  std::span<const std::byte> tag;
};

struct DecodeResult {
  std::optional<DecodedHead> head;  // set on success
  RejectReason reason = RejectReason::kMalformed;  // why not, otherwise
  std::string detail;  // one line for the log, e.g. "wire version 2, this chorus speaks 1"
};

// Decodes and checks a head against the body length actually received. Checks, in order:
// enough bytes for magic and version, magic, version, the fixed header present, reserved and
// enum fields, address length and characters, the head's exact length, payload_bytes equal to
// the body length and within limits, and for parameters the payload header's own consistency
// (dtype known, count * dtype size == payload_bytes, offset + count <= total, chunk index <
// chunk count). Never reads outside `head`.
DecodeResult decode_head(std::span<const std::byte> head, std::uint64_t body_bytes,
                         const DecodeLimits& limits);

// True when every value is finite (no NaN, no infinity). `data` may be unaligned.
bool all_finite_f32(std::span<const std::byte> data);

}  // namespace chorus::wire
