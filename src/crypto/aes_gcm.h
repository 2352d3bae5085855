#pragma once
// AES-256-GCM (12-byte nonce, 16-byte tag) for frame sealing, from the fastest implementation
// built in: OpenSSL's libcrypto when chorus is built with it (VAES/AVX-512 code paths, about
// three times libsodium 1.0.18's AES-NI code on this kind of CPU), else libsodium's
// crypto_aead_aes256gcm (which needs AES-NI and PCLMUL). Both compute the same standard
// AES-256-GCM, so peers built either way interoperate (tests/crypto checks one against the
// other).
//
// Thread-safe: keys are immutable after construction; per-call state is per thread.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace chorus::aes_gcm {

// True when this build can run AES-256-GCM here at all.
bool available();
// "openssl" or "libsodium".
const char* implementation();

class Key {
 public:
  explicit Key(const unsigned char raw[32]);
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  // Encrypts n bytes of `in` to `out` (may be the same) and writes the tag. With n == 0 this
  // is GMAC over `ad`.
  void encrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
               std::size_t n, unsigned char* out, unsigned char tag[16]) const;
  // Verifies and decrypts; false when the tag does not verify (then `out` must not be used).
  bool decrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
               std::size_t n, unsigned char* out, const unsigned char tag[16]) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chorus::aes_gcm
