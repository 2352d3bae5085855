#include "foundations/wire/wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "foundations/base/error.h"
#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"
#include "foundations/wire/finite_scan.h"

namespace chorus::wire {

namespace {

DecodeResult fail(RejectReason reason, std::string detail) {
  DecodeResult r;
  r.reason = reason;
  r.detail = std::move(detail);
  return r;
}

bool address_char_ok(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

std::size_t dtype_bytes(DType dtype) { return dtype == DType::kF32 ? 4 : 0; }

std::size_t tag_bytes(Protection protection) {
  switch (protection) {
    case Protection::kNone: return 0;
    case Protection::kAuthenticated: return kAuthenticatedTagBytes;
    case Protection::kEncrypted: return kEncryptedTagBytes;
  }
  return 0;
}

const char* protection_name(Protection protection) {
  switch (protection) {
    case Protection::kNone: return "none";
    case Protection::kAuthenticated: return "authenticated";
    case Protection::kEncrypted: return "encrypted";
  }
  return "unknown";
}

const char* cipher_name(Cipher cipher) {
  switch (cipher) {
    case Cipher::kNone: return "none";
    case Cipher::kAes256Gcm: return "aes256gcm";
    case Cipher::kXChaCha20Poly1305: return "xchacha20poly1305";
  }
  return "unknown";
}

std::size_t head_bytes(PayloadKind kind, Protection protection, std::size_t address_bytes) {
  return kFixedHeaderBytes + address_bytes + (kind == PayloadKind::kParams ? kParamHeaderBytes : 0) +
         tag_bytes(protection);
}

void encode_head(const Header& h, std::string_view address, const ParamHeader* params,
                 std::span<std::byte> out) {
  CHORUS_CHECK(!address.empty() && address.size() <= kMaxAddressBytes,
               "sender address must be 1..255 bytes");
  CHORUS_CHECK((h.kind == PayloadKind::kParams) == (params != nullptr),
               "a payload header is given exactly for parameter frames");
  CHORUS_CHECK((h.protection == Protection::kNone) == (h.cipher == Cipher::kNone),
               "a cipher is named exactly for protected frames");
  CHORUS_CHECK(out.size() == head_bytes(h.kind, h.protection, address.size()),
               "head buffer has the wrong size");
  ByteWriter w(out);
  w.u32(kMagic);
  w.u16(h.version);
  w.u16(h.type);
  w.u64(h.swarm_id);
  w.u64(h.sender_id);
  w.u64(h.incarnation);
  w.u64(h.sequence);
  w.u64(h.timestamp_us);
  w.u64(h.payload_bytes);
  w.u8(static_cast<std::uint8_t>(h.kind));
  w.u8(static_cast<std::uint8_t>(h.protection));
  w.u8(static_cast<std::uint8_t>(h.cipher));
  w.u8(static_cast<std::uint8_t>(address.size()));
  w.u32(0);  // reserved
  w.text(address);
  if (params) {
    w.u64(params->step);
    w.u64(params->tag);
    w.u64(params->total_elements);
    w.u64(params->offset);
    w.u32(params->count);
    w.u32(params->chunk_index);
    w.u32(params->chunk_count);
    w.u8(static_cast<std::uint8_t>(params->dtype));
    w.u8(0);  // reserved
    w.u16(0);
  }
  // The tag (if any) is left for the sealer; zero it so the bytes are defined.
  w.zeros(out.size() - w.size());
}

DecodeResult decode_head(std::span<const std::byte> in, std::uint64_t body_bytes,
                         const DecodeLimits& limits) {
  ByteReader read(in);
  const std::uint32_t magic = read.u32();
  Header h;
  h.version = read.u16();
  if (!read.ok())
    return fail(RejectReason::kTruncated, fmt::format("head of {} bytes, shorter than magic and version", in.size()));
  if (magic != kMagic)
    return fail(RejectReason::kBadMagic, "not a chorus frame (wrong magic)");
  if (h.version > kVersion)
    return fail(RejectReason::kBadVersion,
                fmt::format("wire version {} is newer than this chorus speaks ({}); upgrade this peer",
                            h.version, kVersion));
  if (h.version < kOldestAcceptedVersion)
    return fail(RejectReason::kBadVersion,
                fmt::format("wire version {} is older than the oldest this chorus accepts ({}); "
                            "upgrade the sender", h.version, kOldestAcceptedVersion));
  h.type = read.u16();
  h.swarm_id = read.u64();
  h.sender_id = read.u64();
  h.incarnation = read.u64();
  h.sequence = read.u64();
  h.timestamp_us = read.u64();
  h.payload_bytes = read.u64();
  const std::uint8_t kind = read.u8();
  const std::uint8_t protection = read.u8();
  const std::uint8_t cipher = read.u8();
  const std::size_t address_bytes = read.u8();
  const std::uint32_t reserved = read.u32();
  if (!read.ok())
    return fail(RejectReason::kTruncated, fmt::format("head of {} bytes, shorter than the {}-byte header",
                                                      in.size(), kFixedHeaderBytes));
  if (reserved != 0) return fail(RejectReason::kMalformed, "reserved header bytes are not zero");
  if (kind > 1) return fail(RejectReason::kMalformed, fmt::format("unknown payload kind {}", kind));
  if (protection > 2) return fail(RejectReason::kMalformed, fmt::format("unknown protection {}", protection));
  if (cipher > 2) return fail(RejectReason::kMalformed, fmt::format("unknown cipher {}", cipher));
  h.kind = static_cast<PayloadKind>(kind);
  h.protection = static_cast<Protection>(protection);
  h.cipher = static_cast<Cipher>(cipher);
  if ((h.protection == Protection::kNone) != (h.cipher == Cipher::kNone))
    return fail(RejectReason::kMalformed, "cipher does not match protection");
  if (address_bytes == 0) return fail(RejectReason::kMalformed, "empty sender address");

  // From here on the exact length is known to be present: the reads below cannot fail.
  const std::size_t expected = head_bytes(h.kind, h.protection, address_bytes);
  if (in.size() < expected)
    return fail(RejectReason::kTruncated, fmt::format("head of {} bytes, its fields need {}", in.size(), expected));
  if (in.size() > expected)
    return fail(RejectReason::kBadLength, fmt::format("head of {} bytes, its fields need {}", in.size(), expected));
  if (h.payload_bytes > limits.max_payload_bytes)
    return fail(RejectReason::kOversized, fmt::format("payload of {} bytes exceeds the limit of {}",
                                                      h.payload_bytes, limits.max_payload_bytes));
  if (h.payload_bytes != body_bytes)
    return fail(RejectReason::kBadLength, fmt::format("payload length field says {} bytes, body has {}",
                                                      h.payload_bytes, body_bytes));

  DecodedHead d;
  const std::span<const std::byte> address = read.bytes(address_bytes);
  d.sender_address = std::string_view(reinterpret_cast<const char*>(address.data()), address.size());
  for (char c : d.sender_address)
    if (!address_char_ok(c)) return fail(RejectReason::kMalformed, "sender address is not printable ASCII");
  if (h.kind == PayloadKind::kParams) {
    ParamHeader p;
    p.step = read.u64();
    p.tag = read.u64();
    p.total_elements = read.u64();
    p.offset = read.u64();
    p.count = read.u32();
    p.chunk_index = read.u32();
    p.chunk_count = read.u32();
    const std::uint8_t dtype = read.u8();
    const std::uint8_t reserved8 = read.u8();
    const std::uint16_t reserved16 = read.u16();
    if (reserved8 != 0 || reserved16 != 0)
      return fail(RejectReason::kMalformed, "reserved payload header bytes are not zero");
    p.dtype = static_cast<DType>(dtype);
    const std::size_t esize = dtype_bytes(p.dtype);
    if (esize == 0) return fail(RejectReason::kMalformed, fmt::format("unknown dtype {}", dtype));
    if (static_cast<std::uint64_t>(p.count) * esize != h.payload_bytes)
      return fail(RejectReason::kBadLength, fmt::format("element count {} does not match a payload of {} bytes",
                                                        p.count, h.payload_bytes));
    if (p.offset > p.total_elements || p.count > p.total_elements - p.offset)
      return fail(RejectReason::kBadLength, "chunk lies outside its buffer (offset + count > total)");
    if (p.chunk_count == 0 || p.chunk_index >= p.chunk_count)
      return fail(RejectReason::kMalformed, "chunk index not below chunk count");
    d.params = p;
  }
  d.header = h;
  d.authenticated = in.first(read.position());
  d.tag = read.bytes(tag_bytes(h.protection));
  if (!read.finished())  // the length check above rules this out
    return fail(RejectReason::kBadLength, fmt::format("head of {} bytes, its fields need {}", in.size(), expected));
  DecodeResult r;
  r.head = d;
  return r;
}

namespace {

// An all-ones exponent (0x7f800000) is NaN or Inf. Portable: branch-free over blocks, so the
// compiler vectorizes it for the baseline ISA.
bool all_finite_portable(const std::byte* p, std::size_t n) {
  constexpr std::uint32_t kExp = 0x7f800000u;
  std::size_t i = 0;
  constexpr std::size_t kBlock = 1024;
  while (i < n) {
    const std::size_t end = std::min(n, i + kBlock);
    std::uint32_t bad = 0;
    for (; i < end; ++i) {
      std::uint32_t u;
      std::memcpy(&u, p + 4 * i, 4);
      bad |= static_cast<std::uint32_t>((u & kExp) == kExp);
    }
    if (bad) return false;
  }
  return true;
}

#if defined(__x86_64__) && defined(__GNUC__)
// AVX-512: the register scan decryption uses (finite_scan.h) over whole 64-byte blocks, the
// portable loop over the tail.
__attribute__((target("avx512f"))) bool all_finite_avx512(const std::byte* p, std::size_t n) {
  FiniteScan scan;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) scan.see(_mm512_loadu_si512(p + 4 * i));
  return scan.all_finite() && all_finite_portable(p + 4 * i, n - i);
}

bool has_avx512f() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}
#endif

}  // namespace

bool all_finite_f32(std::span<const std::byte> data) {
  const std::size_t n = data.size() / 4;
#if defined(__x86_64__) && defined(__GNUC__)
  if (n >= 16 && has_avx512f()) return all_finite_avx512(data.data(), n);
#endif
  return all_finite_portable(data.data(), n);
}

}  // namespace chorus::wire
