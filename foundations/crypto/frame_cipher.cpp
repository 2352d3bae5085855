#include "foundations/crypto/frame_cipher.h"

#include <sodium.h>

#include <cstring>

#include "foundations/base/error.h"
#include "foundations/crypto/aes_gcm.h"
#include "foundations/wire/byte_writer.h"

namespace chorus {

namespace {
constexpr std::size_t kMaxCachedKeys = 4096;
constexpr std::uint32_t kDomainHead = 0, kDomainBody = 1, kDomainSealed = 2;

struct Nonce {
  unsigned char bytes[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {};
  Nonce(std::uint64_t seq, std::uint32_t domain) {
    wire::ByteWriter w(std::as_writable_bytes(std::span(bytes)));
    w.u64(seq);
    w.u32(domain);
  }
};
static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12);
static_assert(crypto_aead_aes256gcm_ABYTES == 16 && crypto_aead_xchacha20poly1305_ietf_ABYTES == 16);

const unsigned char* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
// libsodium wants a non-null pointer even for empty inputs.
const unsigned char* nonnull(const std::byte* p) {
  static const unsigned char zero = 0;
  return p ? uc(p) : &zero;
}
}  // namespace

struct FrameCipher::SenderKey {
  wire::Cipher cipher;
  unsigned char raw[32];                 // the sender key (XChaCha20-Poly1305 uses it directly)
  std::unique_ptr<aes_gcm::Key> aes;     // for AES-256-GCM
  ~SenderKey() { sodium_memzero(raw, sizeof raw); }

  void encrypt(std::uint32_t domain, std::uint64_t seq, std::span<const std::byte> ad, const std::byte* in,
               std::size_t n, std::byte* out, unsigned char tag[16]) const {
    const Nonce nonce(seq, domain);
    static const unsigned char zero = 0;
    unsigned char dummy = 0;
    if (cipher == wire::Cipher::kAes256Gcm) {
      aes->encrypt(nonce.bytes, nonnull(ad.data()), ad.size(), n ? uc(in) : &zero, n, n ? uc(out) : &dummy, tag);
      return;
    }
    unsigned long long tag_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(n ? uc(out) : &dummy, tag, &tag_len, n ? uc(in) : &zero, n,
                                                        nonnull(ad.data()), ad.size(), nullptr, nonce.bytes, raw);
  }
  // With `all_finite_f32`: see aes_gcm::Key::decrypt (the plaintext, or the AD when n == 0).
  bool decrypt(std::uint32_t domain, std::uint64_t seq, std::span<const std::byte> ad, const std::byte* in,
               std::size_t n, std::byte* out, const unsigned char tag[16], bool* all_finite_f32 = nullptr) const {
    const Nonce nonce(seq, domain);
    static const unsigned char zero = 0;
    unsigned char dummy = 0;
    if (cipher == wire::Cipher::kAes256Gcm)
      return aes->decrypt(nonce.bytes, nonnull(ad.data()), ad.size(), n ? uc(in) : &zero, n, n ? uc(out) : &dummy,
                          tag, all_finite_f32);
    const bool ok = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(n ? uc(out) : &dummy, nullptr,
                                                                        n ? uc(in) : &zero, n, tag, nonnull(ad.data()),
                                                                        ad.size(), nonce.bytes, raw) == 0;
    if (ok && all_finite_f32) *all_finite_f32 = wire::all_finite_f32(n ? std::span<const std::byte>(out, n) : ad);
    return ok;
  }
};

std::size_t FrameCipher::CacheKeyHash::operator()(const CacheKey& k) const noexcept {
  std::uint64_t h = k.sender * 0x9e3779b97f4a7c15ull;
  h ^= k.incarnation + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
  h ^= (static_cast<std::uint64_t>(k.protection) << 8 | k.cipher) * 0xbf58476d1ce4e5b9ull;
  return static_cast<std::size_t>(h);
}

FrameCipher::FrameCipher(const SwarmKey& key)
    : aes_(aes_gcm::configured()),
      base_authenticated_(key.derive("chframe1", 1)),
      base_encrypted_(key.derive("chframe1", 2)) {
  if (sodium_init() < 0) throw UserError("libsodium could not be initialized");
}

FrameCipher::FrameCipher(const SwarmKey& key, aes_gcm::Implementation aes) : FrameCipher(key) {
  CHORUS_CHECK(aes_gcm::available(aes), "AES-256-GCM implementation not available here");
  aes_ = aes;
}

FrameCipher::~FrameCipher() {
  sodium_memzero(base_authenticated_.data(), base_authenticated_.size());
  sodium_memzero(base_encrypted_.data(), base_encrypted_.size());
}

wire::Cipher FrameCipher::best_available() {
  if (sodium_init() < 0) throw UserError("libsodium could not be initialized");
  // AES-GCM only where the CPU has AES-NI and PCLMUL (constant time and fast; libsodium's check
  // serves as the detection), else XChaCha20-Poly1305.
  return crypto_aead_aes256gcm_is_available() && aes_gcm::available() ? wire::Cipher::kAes256Gcm
                                                                       : wire::Cipher::kXChaCha20Poly1305;
}

bool FrameCipher::available(wire::Cipher cipher) {
  if (cipher == wire::Cipher::kXChaCha20Poly1305) return true;
  if (cipher == wire::Cipher::kAes256Gcm) return sodium_init() >= 0 && aes_gcm::available();
  return false;
}

std::shared_ptr<const FrameCipher::SenderKey> FrameCipher::derive(const CacheKey& k) const {
  const auto& base = k.protection == static_cast<std::uint8_t>(wire::Protection::kEncrypted)
                         ? base_encrypted_ : base_authenticated_;
  unsigned char input[17];
  wire::ByteWriter w(std::as_writable_bytes(std::span(input)));
  w.u64(k.sender);
  w.u64(k.incarnation);
  w.u8(k.cipher);
  auto key = std::make_shared<SenderKey>();
  key->cipher = static_cast<wire::Cipher>(k.cipher);
  crypto_generichash(key->raw, sizeof key->raw, input, sizeof input, base.data(), base.size());
  if (key->cipher == wire::Cipher::kAes256Gcm) key->aes = std::make_unique<aes_gcm::Key>(key->raw, aes_);
  return key;
}

std::shared_ptr<const FrameCipher::SenderKey> FrameCipher::lookup(const CacheKey& k) {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(k);
  return it == cache_.end() ? nullptr : it->second;
}

void FrameCipher::remember(const CacheKey& k, std::shared_ptr<const SenderKey> key) {
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kMaxCachedKeys) cache_.clear();  // bounded; re-derived on demand
  cache_.emplace(k, std::move(key));
}

void FrameCipher::seal(const wire::Header& h, std::span<std::byte> head, std::span<const std::byte> body,
                       std::byte* body_out) {
  CHORUS_CHECK(h.protection != wire::Protection::kNone, "sealing needs a protection level");
  CHORUS_CHECK(available(h.cipher), "cipher not available on this CPU");
  const std::size_t tag_len = wire::tag_bytes(h.protection);
  CHORUS_CHECK(head.size() > tag_len, "head shorter than its tag");
  const CacheKey ck{h.sender_id, h.incarnation, static_cast<std::uint8_t>(h.protection),
                    static_cast<std::uint8_t>(h.cipher)};
  auto key = lookup(ck);
  if (!key) {
    key = derive(ck);
    remember(ck, key);
  }
  const auto ad = head.first(head.size() - tag_len);
  unsigned char* tag = uc(head.data() + ad.size());
  if (h.protection == wire::Protection::kAuthenticated) {
    key->encrypt(kDomainHead, h.sequence, ad, nullptr, 0, nullptr, tag);
    key->encrypt(kDomainBody, h.sequence, body, nullptr, 0, nullptr, tag + 16);
    return;
  }
  CHORUS_CHECK(body.empty() || body_out != nullptr, "encryption needs an output buffer");
  key->encrypt(kDomainSealed, h.sequence, ad, body.data(), body.size(), body_out, tag);
}

bool FrameCipher::open(const wire::Header& h, std::span<const std::byte> ad, std::span<const std::byte> tag,
                       std::span<const std::byte> body, std::byte* body_out, bool* body_finite_f32) {
  if (h.protection == wire::Protection::kNone || !available(h.cipher)) return false;
  if (tag.size() != wire::tag_bytes(h.protection)) return false;
  const CacheKey ck{h.sender_id, h.incarnation, static_cast<std::uint8_t>(h.protection),
                    static_cast<std::uint8_t>(h.cipher)};
  auto key = lookup(ck);
  const bool cached = key != nullptr;
  if (!cached) key = derive(ck);
  bool ok;
  if (h.protection == wire::Protection::kAuthenticated) {
    ok = key->decrypt(kDomainHead, h.sequence, ad, nullptr, 0, nullptr, uc(tag.data())) &&
         key->decrypt(kDomainBody, h.sequence, body, nullptr, 0, nullptr, uc(tag.data() + 16), body_finite_f32);
  } else {
    if (!body.empty() && !body_out) return false;
    ok = key->decrypt(kDomainSealed, h.sequence, ad, body.data(), body.size(), body_out, uc(tag.data()),
                      body_finite_f32);
    // An empty body has nothing to check (decrypt looked at the head instead).
    if (ok && body_finite_f32 && body.empty()) *body_finite_f32 = true;
  }
  // Only keys that opened a genuine frame enter the cache, so forged sender ids cannot evict.
  if (ok && !cached) remember(ck, key);
  return ok;
}

}  // namespace chorus
