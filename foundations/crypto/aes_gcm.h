#pragma once
// AES-256-GCM (12-byte nonce, 16-byte tag) for frame sealing, from the fastest implementation
// this CPU runs: chorus's own VAES + VPCLMULQDQ + AVX-512 code (aes_gcm_vaes.h, ~0.065 ns/byte
// on a Sapphire Rapids class core) where the CPU has those, else OpenSSL's libcrypto when
// chorus is built with it, else libsodium's crypto_aead_aes256gcm (which needs AES-NI and
// PCLMUL). All compute the same standard AES-256-GCM, so peers built or running either way
// interoperate (tests/crypto checks them against OpenSSL and the NIST vectors).
//
// Thread-safe: keys are immutable after construction; per-call state is per thread. Keys wipe
// their expanded schedule when destroyed.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace chorus::aes_gcm {

// True when this build can run AES-256-GCM here at all.
bool available();
// "vaes", "openssl" or "libsodium".
const char* implementation();

class Key {
 public:
  explicit Key(const unsigned char raw[32]);
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  // Encrypts n bytes of `in` to `out` (the same buffer or one not overlapping it) and writes
  // the tag. With n == 0 this is GMAC over `ad`. n must not exceed GCM's 2^36 - 32 bytes.
  void encrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
               std::size_t n, unsigned char* out, unsigned char tag[16]) const;
  // Verifies and decrypts; false when the tag does not verify (then `out` must not be used:
  // depending on the implementation it holds zeros or unverified plaintext).
  // With `all_finite_f32` non-null, also stores whether the plaintext (or, when n == 0, the
  // associated data), read as 4-byte little-endian floats from its first byte on, holds no NaN
  // or infinity (wire::all_finite_f32's answer); the VAES code checks each register as it
  // decrypts or hashes it, the others in a pass afterwards. Meaningful only when it returns true.
  bool decrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
               std::size_t n, unsigned char* out, const unsigned char tag[16],
               bool* all_finite_f32 = nullptr) const;

 private:
  bool decrypt_fallback(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len,
                        const unsigned char* in, std::size_t n, unsigned char* out, const unsigned char tag[16]) const;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chorus::aes_gcm
