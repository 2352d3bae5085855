#include "crypto/aes_gcm.h"

#include <sodium.h>

#include <climits>
#include <cstring>

#include "chorus/error.h"
#include "chorus_config.h"

#if CHORUS_HAVE_OPENSSL
#include <openssl/evp.h>
#endif

namespace chorus::aes_gcm {

#if CHORUS_HAVE_OPENSSL

namespace {
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
}  // namespace

struct Key::State {
  unsigned char raw[32];
};

bool available() { return cipher() != nullptr; }
const char* implementation() { return "openssl"; }

Key::Key(const unsigned char raw[32]) : state_(std::make_unique<State>()) { std::memcpy(state_->raw, raw, 32); }
Key::~Key() { sodium_memzero(state_->raw, sizeof state_->raw); }

void Key::encrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, unsigned char tag[16]) const {
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
}

bool Key::decrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, const unsigned char tag[16]) const {
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
}

#else  // libsodium

struct Key::State {
  alignas(16) crypto_aead_aes256gcm_state state;
};

bool available() { return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available(); }
const char* implementation() { return "libsodium"; }

Key::Key(const unsigned char raw[32]) : state_(std::make_unique<State>()) {
  CHORUS_CHECK(available(), "AES-256-GCM needs AES-NI with libsodium");
  crypto_aead_aes256gcm_beforenm(&state_->state, raw);
}
Key::~Key() { sodium_memzero(&state_->state, sizeof state_->state); }

void Key::encrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, unsigned char tag[16]) const {
  static const unsigned char zero = 0;
  unsigned char dummy = 0;
  unsigned long long tag_len = 0;
  crypto_aead_aes256gcm_encrypt_detached_afternm(n ? out : &dummy, tag, &tag_len, n ? in : &zero, n,
                                                 ad_len ? ad : &zero, ad_len, nullptr, nonce, &state_->state);
}

bool Key::decrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
                  std::size_t n, unsigned char* out, const unsigned char tag[16]) const {
  static const unsigned char zero = 0;
  unsigned char dummy = 0;
  return crypto_aead_aes256gcm_decrypt_detached_afternm(n ? out : &dummy, nullptr, n ? in : &zero, n, tag,
                                                        ad_len ? ad : &zero, ad_len, nonce, &state_->state) == 0;
}

#endif

}  // namespace chorus::aes_gcm
