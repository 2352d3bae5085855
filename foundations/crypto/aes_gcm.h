#pragma once
// AES-256-GCM (12-byte nonce, 16-byte tag) for frame sealing, from one of two implementations:
//
//  * OpenSSL's EVP AES-256-GCM (libcrypto), the default. Code that guards every frame should
//    come from a maintained, audited library unless there is a reason to do otherwise, and
//    OpenSSL picks the fastest code this CPU runs (AES-NI, VAES/AVX-512) by itself. Opening
//    with it checks a body for NaN and infinities (wire::all_finite_f32) in a second pass over
//    the plaintext after decryption.
//  * chorus's own VAES + VPCLMULQDQ + AVX-512 code (aes_gcm_vaes.h), opt-in: meson option
//    `vaes` (-Dvaes=true) makes it the configured implementation on CPUs that run it. Its one
//    advantage is that the finite check is folded into the decryption pass, so a received
//    parameter body is read once instead of twice; the price is ~400 lines of intrinsics that
//    chorus maintains itself. It is compiled into every build and tested wherever the CPU has
//    the instructions, so the option only decides whether frames use it.
//
// Both compute the same standard AES-256-GCM (tests/crypto holds each to the GCM
// specification's vectors, to OpenSSL and libsodium byte for byte, and to the same bit-flip
// tests), so peers built with or without the option interoperate. Frames from CPUs without
// AES-NI use XChaCha20-Poly1305 instead (FrameCipher::best_available), not this.
//
// Nothing blocks. Thread-safe: keys are immutable after construction, so any number of threads
// may use one at once; per-call state is per thread. Keys wipe their copy of the key (and the
// VAES expanded schedule) when destroyed.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace chorus::aes_gcm {

enum class Implementation : std::uint8_t {
  kOpenSsl,  // OpenSSL's EVP AES-256-GCM: the default
  kVaes,     // aes_gcm_vaes.h, fused finite check: opt-in (meson option vaes)
};

// "openssl" or "vaes".
const char* name(Implementation impl);
// Whether `impl` runs here: OpenSSL whenever its libcrypto provides AES-256-GCM, VAES where
// vaes::supported().
bool available(Implementation impl);
// The implementation a Key uses unless told otherwise: kVaes when chorus was built with the
// meson option vaes and this CPU runs it, else kOpenSsl. Fixed for the process.
Implementation configured();
// True when this build can run AES-256-GCM here at all (available(configured())).
bool available();
// name(configured()): the implementation that actually seals and opens frames here.
const char* implementation();

class Key {
 public:
  // Uses configured().
  explicit Key(const unsigned char raw[32]);
  // Uses `impl`, which must be available() (else throws InvariantError): lets tests hold every
  // implementation this CPU runs to the same vectors, whichever one the build configured.
  Key(const unsigned char raw[32], Implementation impl);
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  Implementation implementation() const { return impl_; }

  // Encrypts n bytes of `in` to `out` (the same buffer or one not overlapping it) and writes
  // the tag. With n == 0 this is GMAC over `ad` (then `in` and `out` may be null, likewise `ad`
  // when ad_len == 0). n must not exceed GCM's 2^36 - 32 bytes (throws otherwise).
  void encrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
               std::size_t n, unsigned char* out, unsigned char tag[16]) const;
  // Verifies and decrypts (same aliasing rules); the tag is compared in constant time. Returns
  // false when the tag does not verify -- then the n bytes at `out` are zeros, so no
  // unverified plaintext is left behind -- or when n exceeds GCM's limit (`out` untouched).
  // With `all_finite_f32` non-null, also stores whether the plaintext (or, when n == 0, the
  // associated data), read as 4-byte little-endian floats from its first byte on, holds no NaN
  // or infinity (wire::all_finite_f32's answer); the VAES code checks each register as it
  // decrypts or hashes it, OpenSSL's path in a pass afterwards. Meaningful only when it
  // returns true.
  bool decrypt(const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len, const unsigned char* in,
               std::size_t n, unsigned char* out, const unsigned char tag[16],
               bool* all_finite_f32 = nullptr) const;

 private:
  struct State;
  Implementation impl_;
  std::unique_ptr<State> state_;
};

}  // namespace chorus::aes_gcm
