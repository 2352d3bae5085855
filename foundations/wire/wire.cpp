#include "foundations/wire/wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "foundations/base/error.h"
#include "foundations/wire/finite_scan.h"

namespace chorus::wire {

namespace {

// Little-endian stores and loads, independent of the host's byte order.
template <typename T>
void put(std::span<std::byte> out, std::size_t off, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[off + i] = static_cast<std::byte>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
}

template <typename T>
T get(std::span<const std::byte> in, std::size_t off) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(in[off + i])) << (8 * i);
  return static_cast<T>(v);
}

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
  put<std::uint32_t>(out, 0, kMagic);
  put<std::uint16_t>(out, 4, h.version);
  put<std::uint16_t>(out, 6, h.type);
  put<std::uint64_t>(out, 8, h.swarm_id);
  put<std::uint64_t>(out, 16, h.sender_id);
  put<std::uint64_t>(out, 24, h.incarnation);
  put<std::uint64_t>(out, 32, h.sequence);
  put<std::uint64_t>(out, 40, h.timestamp_us);
  put<std::uint64_t>(out, 48, h.payload_bytes);
  put<std::uint8_t>(out, 56, static_cast<std::uint8_t>(h.kind));
  put<std::uint8_t>(out, 57, static_cast<std::uint8_t>(h.protection));
  put<std::uint8_t>(out, 58, static_cast<std::uint8_t>(h.cipher));
  put<std::uint8_t>(out, 59, static_cast<std::uint8_t>(address.size()));
  put<std::uint32_t>(out, 60, 0);
  std::memcpy(out.data() + kFixedHeaderBytes, address.data(), address.size());
  std::size_t off = kFixedHeaderBytes + address.size();
  if (params) {
    put<std::uint64_t>(out, off + 0, params->step);
    put<std::uint64_t>(out, off + 8, params->tag);
    put<std::uint64_t>(out, off + 16, params->total_elements);
    put<std::uint64_t>(out, off + 24, params->offset);
    put<std::uint32_t>(out, off + 32, params->count);
    put<std::uint32_t>(out, off + 36, params->chunk_index);
    put<std::uint32_t>(out, off + 40, params->chunk_count);
    put<std::uint8_t>(out, off + 44, static_cast<std::uint8_t>(params->dtype));
    put<std::uint8_t>(out, off + 45, 0);
    put<std::uint16_t>(out, off + 46, 0);
    off += kParamHeaderBytes;
  }
  // The tag (if any) is left for the sealer; zero it so the bytes are defined.
  std::memset(out.data() + off, 0, out.size() - off);
}

DecodeResult decode_head(std::span<const std::byte> in, std::uint64_t body_bytes,
                         const DecodeLimits& limits) {
  if (in.size() < 8)
    return fail(RejectReason::kTruncated, fmt::format("head of {} bytes, shorter than magic and version", in.size()));
  if (get<std::uint32_t>(in, 0) != kMagic)
    return fail(RejectReason::kBadMagic, "not a chorus frame (wrong magic)");
  Header h;
  h.version = get<std::uint16_t>(in, 4);
  if (h.version > kVersion)
    return fail(RejectReason::kBadVersion,
                fmt::format("wire version {} is newer than this chorus speaks ({}); upgrade this peer",
                            h.version, kVersion));
  if (h.version < kOldestAcceptedVersion)
    return fail(RejectReason::kBadVersion,
                fmt::format("wire version {} is older than the oldest this chorus accepts ({}); "
                            "upgrade the sender", h.version, kOldestAcceptedVersion));
  if (in.size() < kFixedHeaderBytes)
    return fail(RejectReason::kTruncated, fmt::format("head of {} bytes, shorter than the {}-byte header",
                                                      in.size(), kFixedHeaderBytes));
  h.type = get<std::uint16_t>(in, 6);
  h.swarm_id = get<std::uint64_t>(in, 8);
  h.sender_id = get<std::uint64_t>(in, 16);
  h.incarnation = get<std::uint64_t>(in, 24);
  h.sequence = get<std::uint64_t>(in, 32);
  h.timestamp_us = get<std::uint64_t>(in, 40);
  h.payload_bytes = get<std::uint64_t>(in, 48);
  const auto kind = get<std::uint8_t>(in, 56);
  const auto protection = get<std::uint8_t>(in, 57);
  const auto cipher = get<std::uint8_t>(in, 58);
  const std::size_t address_bytes = get<std::uint8_t>(in, 59);
  if (get<std::uint32_t>(in, 60) != 0) return fail(RejectReason::kMalformed, "reserved header bytes are not zero");
  if (kind > 1) return fail(RejectReason::kMalformed, fmt::format("unknown payload kind {}", kind));
  if (protection > 2) return fail(RejectReason::kMalformed, fmt::format("unknown protection {}", protection));
  if (cipher > 2) return fail(RejectReason::kMalformed, fmt::format("unknown cipher {}", cipher));
  h.kind = static_cast<PayloadKind>(kind);
  h.protection = static_cast<Protection>(protection);
  h.cipher = static_cast<Cipher>(cipher);
  if ((h.protection == Protection::kNone) != (h.cipher == Cipher::kNone))
    return fail(RejectReason::kMalformed, "cipher does not match protection");
  if (address_bytes == 0) return fail(RejectReason::kMalformed, "empty sender address");

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
  const char* address = reinterpret_cast<const char*>(in.data() + kFixedHeaderBytes);
  for (std::size_t i = 0; i < address_bytes; ++i)
    if (!address_char_ok(address[i])) return fail(RejectReason::kMalformed, "sender address is not printable ASCII");
  d.sender_address = std::string_view(address, address_bytes);
  std::size_t off = kFixedHeaderBytes + address_bytes;
  if (h.kind == PayloadKind::kParams) {
    ParamHeader p;
    p.step = get<std::uint64_t>(in, off + 0);
    p.tag = get<std::uint64_t>(in, off + 8);
    p.total_elements = get<std::uint64_t>(in, off + 16);
    p.offset = get<std::uint64_t>(in, off + 24);
    p.count = get<std::uint32_t>(in, off + 32);
    p.chunk_index = get<std::uint32_t>(in, off + 36);
    p.chunk_count = get<std::uint32_t>(in, off + 40);
    const auto dtype = get<std::uint8_t>(in, off + 44);
    if (get<std::uint8_t>(in, off + 45) != 0 || get<std::uint16_t>(in, off + 46) != 0)
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
    off += kParamHeaderBytes;
  }
  d.header = h;
  d.authenticated = in.first(off);
  d.tag = in.subspan(off);
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
