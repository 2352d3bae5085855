#pragma once
// AES-256-GCM (96-bit nonce, 128-bit tag) on VAES + VPCLMULQDQ + AVX-512: CTR mode four blocks
// per 512-bit register, 16 blocks per step, GHASH with precomputed powers H^1..H^16 and one
// deferred reduction per 16 blocks. Produces exactly standard AES-256-GCM (tests compare it
// byte for byte with OpenSSL).
//
// Opt-in, not the default: frames are sealed with OpenSSL's EVP AES-256-GCM, a maintained and
// audited library, unless chorus is built with the meson option vaes (-Dvaes=true) and the CPU
// passes supported(). What this code offers in exchange for being chorus's own is that open()
// checks the plaintext for NaN and infinities in the decryption pass, so a received parameter
// body is read once rather than twice. It is compiled into every build, whatever the option,
// so that tests/crypto holds it to the same vectors and tamper tests as OpenSSL wherever the
// CPU runs it. Only aes_gcm.cpp (aes_gcm::Key, Implementation::kVaes) should call it.
//
// Every function except supported() needs a CPU for which supported() is true (calling one
// elsewhere is an illegal instruction). Nothing blocks; a Schedule is immutable after
// expand(), so any number of threads may seal and open with one concurrently. The caller owns
// a Schedule's memory and must wipe it when done (it holds the expanded key).
#include <cstddef>

namespace chorus::aes_gcm::vaes {

// True when this CPU (and OS) runs the code below: VAES, VPCLMULQDQ, AVX-512 F/BW/VL, AES-NI,
// PCLMULQDQ. Cached after the first call.
bool supported();

// Expanded key: AES-256 round keys and the GHASH key powers (H^16 .. H^1, then zero padding so
// a 4-block load starting at any power stays inside the array).
struct Schedule {
  alignas(64) unsigned char round_keys[15][16];
  alignas(64) unsigned char h_powers[20][16];
};

void expand(const unsigned char key[32], Schedule& s);

// Encrypts n bytes of `in` into `out` and writes the 16-byte tag over (ad, ciphertext). `out`
// may equal `in` but must not otherwise overlap it. n == 0 computes GMAC over `ad` (then `in`
// and `out` are not touched and may be null; likewise `ad` when ad_len == 0).
// n must stay within GCM's limit of 2^36 - 32 bytes (the caller checks).
void seal(const Schedule& s, const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len,
          const unsigned char* in, std::size_t n, unsigned char* out, unsigned char tag[16]);

// Decrypts n bytes of `in` into `out` (same aliasing rules) while authenticating, then checks
// `tag` in constant time. Returns false when it does not verify; `out` is then overwritten
// with zeros, so no unverified plaintext is left behind.
// With `all_finite_f32` non-null, the same pass also checks the plaintext (or, when n == 0, the
// associated data) as 4-byte little-endian floats from its first byte on -- each register right
// after it is decrypted or hashed -- and stores whether none is a NaN or an infinity (a trailing
// partial word never is). Meaningful only when open returns true.
bool open(const Schedule& s, const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len,
          const unsigned char* in, std::size_t n, unsigned char* out, const unsigned char tag[16],
          bool* all_finite_f32 = nullptr);

}  // namespace chorus::aes_gcm::vaes
