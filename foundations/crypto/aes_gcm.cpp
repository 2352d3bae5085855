#include "foundations/crypto/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "chorus_config.h"
#include "foundations/base/error.h"
#include "foundations/crypto/aes_gcm_vaes.h"
#include "foundations/wire/wire.h"

namespace chorus::aes_gcm {

namespace {

// GCM's limit on one message: 2^32 - 2 counter blocks (NIST SP 800-38D 5.2.1.1).
constexpr std::size_t kMaxMessageBytes = (std::size_t{1} << 36) - 32;

const EVP_CIPHER* openssl_cipher() {
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

// One AES-256-GCM pass through EVP: encrypts n bytes of `in` to `out` and writes `tag`, or
// decrypts and verifies `tag` (EVP compares it in constant time). Returns whether it succeeded.
bool openssl_gcm(bool encrypt, const unsigned char raw[32], const unsigned char nonce[12], const unsigned char* ad,
                 std::size_t ad_len, const unsigned char* in, std::size_t n, unsigned char* out,
                 unsigned char tag[16]) {
  EVP_CIPHER_CTX* c = thread_context();
  int len = 0;
  bool ok = c && openssl_cipher() && EVP_CipherInit_ex2(c, openssl_cipher(), raw, nonce, encrypt ? 1 : 0, nullptr) == 1;
  for (std::size_t off = 0; ok && off < ad_len; off += kPiece)
    ok = EVP_CipherUpdate(c, nullptr, &len, ad + off, static_cast<int>(std::min(kPiece, ad_len - off))) == 1;
  for (std::size_t off = 0; ok && off < n; off += kPiece)
    ok = EVP_CipherUpdate(c, out + off, &len, in + off, static_cast<int>(std::min(kPiece, n - off))) == 1;
  unsigned char scratch[16];
  if (encrypt)
    return ok && EVP_CipherFinal_ex(c, scratch, &len) == 1 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
  return ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 && EVP_CipherFinal_ex(c, scratch, &len) > 0;
}

void openssl_encrypt(const unsigned char raw[32], const unsigned char nonce[12], const unsigned char* ad,
                     std::size_t ad_len, const unsigned char* in, std::size_t n, unsigned char* out,
                     unsigned char tag[16]) {
  CHORUS_CHECK(openssl_gcm(true, raw, nonce, ad, ad_len, in, n, out, tag), "OpenSSL AES-256-GCM encryption failed");
}

// Wipes `out` when the tag does not verify, as the VAES code does: EVP leaves the unverified
// plaintext there.
bool openssl_decrypt(const unsigned char raw[32], const unsigned char nonce[12], const unsigned char* ad,
                     std::size_t ad_len, const unsigned char* in, std::size_t n, unsigned char* out,
                     const unsigned char tag[16]) {
  unsigned char expected[16];  // EVP takes the tag to check as writable memory
  std::memcpy(expected, tag, 16);
  const bool ok = openssl_gcm(false, raw, nonce, ad, ad_len, in, n, out, expected);
  if (!ok && n) OPENSSL_cleanse(out, n);
  return ok;
}

}  // namespace

struct Key::State {
  vaes::Schedule vaes;   // kVaes: the expanded key
  unsigned char raw[32];  // kOpenSsl: EVP expands it per call
};

const char* name(Implementation impl) { return impl == Implementation::kVaes ? "vaes" : "openssl"; }

bool available(Implementation impl) {
  switch (impl) {
    case Implementation::kOpenSsl: return openssl_cipher() != nullptr;
    case Implementation::kVaes: return vaes::supported();
  }
  return false;
}

Implementation configured() {
  static const Implementation chosen =
      CHORUS_AES_GCM_VAES && vaes::supported() ? Implementation::kVaes : Implementation::kOpenSsl;
  return chosen;
}

bool available() { return available(configured()); }

const char* implementation() { return name(configured()); }

Key::Key(const unsigned char raw[32]) : Key(raw, configured()) {}

Key::Key(const unsigned char raw[32], Implementation impl) : impl_(impl), state_(std::make_unique<State>()) {
  CHORUS_CHECK(available(impl), "AES-256-GCM implementation not available here");
  if (impl_ == Implementation::kVaes)
    vaes::expand(raw, state_->vaes);
  else
    std::memcpy(state_->raw, raw, 32);
}

Key::~Key() { OPENSSL_cleanse(state_.get(), sizeof(State)); }

void Key::encrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, unsigned char tag[16]) const {
  CHORUS_CHECK(n <= kMaxMessageBytes, "AES-256-GCM message longer than GCM allows");
  if (impl_ == Implementation::kVaes)
    vaes::seal(state_->vaes, nonce, ad, ad_len, in, n, out, tag);
  else
    openssl_encrypt(state_->raw, nonce, ad, ad_len, in, n, out, tag);
}

bool Key::decrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, const unsigned char tag[16], bool* all_finite_f32) const {
  if (n > kMaxMessageBytes) return false;
  if (impl_ == Implementation::kVaes) return vaes::open(state_->vaes, nonce, ad, ad_len, in, n, out, tag, all_finite_f32);
  const bool ok = openssl_decrypt(state_->raw, nonce, ad, ad_len, in, n, out, tag);
  if (ok && all_finite_f32) {
    const unsigned char* scanned = n ? out : ad;
    const std::size_t len = n ? n : ad_len;
    *all_finite_f32 = wire::all_finite_f32({reinterpret_cast<const std::byte*>(scanned), scanned ? len : 0});
  }
  return ok;
}

}  // namespace chorus::aes_gcm
