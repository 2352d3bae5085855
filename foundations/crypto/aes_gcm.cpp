#include "foundations/crypto/aes_gcm.h"

#include <sodium.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "chorus_config.h"
#include "foundations/base/error.h"
#include "foundations/crypto/aes_gcm_vaes.h"
#include "foundations/wire/wire.h"

#if CHORUS_HAVE_OPENSSL
#include <openssl/evp.h>
#endif

namespace chorus::aes_gcm {

namespace {

// GCM's limit on one message: 2^32 - 2 counter blocks (NIST SP 800-38D 5.2.1.1).
constexpr std::size_t kMaxMessageBytes = (std::size_t{1} << 36) - 32;

bool use_vaes() { return vaes::supported(); }

#if CHORUS_HAVE_OPENSSL
const EVP_CIPHER* cipher() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return c;
}
// One context per thread, re-keyed per call (key expansion is a few dozen cycles).
EVP_CIPHER_CTX* thread_context() {
  struct Holder {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~Holder() { EVP_CIPHER_CTX_free(ctx); }
  };
  thread_local Holder h;
  return h.ctx;
}
// EVP's lengths are ints: feed long inputs in pieces.
constexpr std::size_t kPiece = std::size_t{1} << 30;

bool fallback_available() { return cipher() != nullptr; }
#else
bool fallback_available() { return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available(); }
#endif

}  // namespace

struct Key::State {
  vaes::Schedule vaes;  // when use_vaes()
#if CHORUS_HAVE_OPENSSL
  unsigned char raw[32];
#else
  alignas(16) crypto_aead_aes256gcm_state sodium;
#endif
};

bool available() { return use_vaes() || fallback_available(); }

const char* implementation() {
  if (use_vaes()) return "vaes";
  return CHORUS_HAVE_OPENSSL ? "openssl" : "libsodium";
}

Key::Key(const unsigned char raw[32]) : state_(std::make_unique<State>()) {
  if (use_vaes()) {
    vaes::expand(raw, state_->vaes);
    return;
  }
#if CHORUS_HAVE_OPENSSL
  std::memcpy(state_->raw, raw, 32);
#else
  CHORUS_CHECK(available(), "AES-256-GCM needs AES-NI with libsodium");
  crypto_aead_aes256gcm_beforenm(&state_->sodium, raw);
#endif
}

Key::~Key() { sodium_memzero(state_.get(), sizeof(State)); }

void Key::encrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, unsigned char tag[16]) const {
  CHORUS_CHECK(n <= kMaxMessageBytes, "AES-256-GCM message longer than GCM allows");
  if (use_vaes()) {
    vaes::seal(state_->vaes, nonce, ad, ad_len, in, n, out, tag);
    return;
  }
#if CHORUS_HAVE_OPENSSL
  EVP_CIPHER_CTX* c = thread_context();
  CHORUS_CHECK(c && cipher(), "OpenSSL AES-256-GCM unavailable");
  int len = 0;
  bool ok = EVP_EncryptInit_ex2(c, cipher(), state_->raw, nonce, nullptr) == 1;
  for (std::size_t off = 0; ok && off < ad_len; off += kPiece)
    ok = EVP_EncryptUpdate(c, nullptr, &len, ad + off, static_cast<int>(std::min(kPiece, ad_len - off))) == 1;
  for (std::size_t off = 0; ok && off < n; off += kPiece)
    ok = EVP_EncryptUpdate(c, out + off, &len, in + off, static_cast<int>(std::min(kPiece, n - off))) == 1;
  unsigned char scratch[16];
  ok = ok && EVP_EncryptFinal_ex(c, scratch, &len) == 1 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
  CHORUS_CHECK(ok, "OpenSSL AES-256-GCM encryption failed");
#else
  static const unsigned char zero = 0;
  unsigned char dummy = 0;
  unsigned long long tag_len = 0;
  crypto_aead_aes256gcm_encrypt_detached_afternm(n ? out : &dummy, tag, &tag_len, n ? in : &zero, n,
                                                 ad_len ? ad : &zero, ad_len, nullptr, nonce, &state_->sodium);
#endif
}

bool Key::decrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, const unsigned char tag[16], bool* all_finite_f32) const {
  if (n > kMaxMessageBytes) return false;
  if (use_vaes()) return vaes::open(state_->vaes, nonce, ad, ad_len, in, n, out, tag, all_finite_f32);
  const bool ok = decrypt_fallback(nonce, ad, ad_len, in, n, out, tag);
  if (ok && all_finite_f32) {
    const unsigned char* scanned = n ? out : ad;
    const std::size_t len = n ? n : ad_len;
    *all_finite_f32 = wire::all_finite_f32({reinterpret_cast<const std::byte*>(scanned), scanned ? len : 0});
  }
  return ok;
}

bool Key::decrypt_fallback(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len,
                           const unsigned char* in, std::size_t n, unsigned char* out,
                           const unsigned char tag[16]) const {
#if CHORUS_HAVE_OPENSSL
  EVP_CIPHER_CTX* c = thread_context();
  if (!c || !cipher()) return false;
  int len = 0;
  bool ok = EVP_DecryptInit_ex2(c, cipher(), state_->raw, nonce, nullptr) == 1;
  for (std::size_t off = 0; ok && off < ad_len; off += kPiece)
    ok = EVP_DecryptUpdate(c, nullptr, &len, ad + off, static_cast<int>(std::min(kPiece, ad_len - off))) == 1;
  for (std::size_t off = 0; ok && off < n; off += kPiece)
    ok = EVP_DecryptUpdate(c, out + off, &len, in + off, static_cast<int>(std::min(kPiece, n - off))) == 1;
  unsigned char expected[16];
  std::memcpy(expected, tag, 16);
  unsigned char scratch[16];
  ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, expected) == 1 &&
       EVP_DecryptFinal_ex(c, scratch, &len) > 0;  // constant-time tag comparison inside
  return ok;
#else
  static const unsigned char zero = 0;
  unsigned char dummy = 0;
  return crypto_aead_aes256gcm_decrypt_detached_afternm(n ? out : &dummy, nullptr, n ? in : &zero, n, tag,
                                                        ad_len ? ad : &zero, ad_len, nonce, &state_->sodium) == 0;
#endif
}

}  // namespace chorus::aes_gcm
