#include "foundations/crypto/aes_gcm_vaes.h"

// GCC 12's AVX-512 intrinsics initialise their "undefined" values from themselves, which
// -Wuninitialized reports once they are inlined (GCC PR 105593): silence exactly those two
// warnings for this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <cpuid.h>
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "foundations/wire/finite_scan.h"

// Every function touching vector registers carries this attribute instead of global -m flags,
// so the rest of chorus stays runnable on any x86-64; supported() gates the calls at run time.
#define CHORUS_VAES_TARGET __attribute__((target("vaes,vpclmulqdq,avx512f,avx512bw,avx512vl,aes,pclmul")))
#define CHORUS_VAES_INLINE CHORUS_VAES_TARGET inline __attribute__((always_inline))

// GHASH representation (as in Linux's and BoringSSL's VPCLMULQDQ code): each 16-byte block is
// byte-reversed, which turns GCM's bit-reflected field element into an ordinary 128-bit
// polynomial over GF(2) modulo G(x) = x^128 + x^127 + x^126 + x^121 + 1. Carry-less products
// are reduced Montgomery-style (a*b*x^-128 mod G), which is why every stored key power is
// H^k * x: then reduce(mul(a, H^k * x)) = a * H^k. Products of up to 16 blocks are summed
// unreduced (three 128-bit partial sums LO, MI, HI per lane) and reduced once.

namespace chorus::aes_gcm::vaes {

namespace {

constexpr std::size_t kStepBytes = 256;  // 16 blocks: 4 registers of 4 blocks
constexpr std::size_t kPrefetchAhead = 2048;  // 8 steps: measured best on cold 1 MiB inputs

// x^63 + x^62 + x^57 in the high qword: G's low terms folded one 64-bit step at a time.
CHORUS_VAES_INLINE __m128i gf_poly128() { return _mm_set_epi64x(static_cast<long long>(0xc200000000000000ull), 1); }
CHORUS_VAES_INLINE __m512i gf_poly512() { return _mm512_broadcast_i32x4(gf_poly128()); }

// Reverses the bytes of each 128-bit lane (block <-> GHASH polynomial).
CHORUS_VAES_INLINE __m128i byte_reverse128() {
  return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
CHORUS_VAES_INLINE __m512i byte_reverse512() { return _mm512_broadcast_i32x4(byte_reverse128()); }

// Counter blocks are kept with their last 4 bytes (the big-endian 32-bit counter) reversed, so
// the counter is the little-endian dword 3 of each lane and vpaddd increments it modulo 2^32,
// exactly GCM's inc32. The same shuffle converts back (it is its own inverse).
CHORUS_VAES_INLINE __m512i counter_swap512() {
  return _mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
}

CHORUS_VAES_INLINE __m512i xor3(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
CHORUS_VAES_INLINE __m512i swap_halves(__m512i a) { return _mm512_shuffle_epi32(a, static_cast<_MM_PERM_ENUM>(0x4e)); }

// The finite-float scan that open() runs on bytes already in registers (wire/finite_scan.h).
using wire::FiniteScan;

// lo/mi/hi += unreduced carry-less product of a and h, lane by lane.
CHORUS_VAES_INLINE void mul_accumulate(__m512i a, __m512i h, __m512i& lo, __m512i& mi, __m512i& hi) {
  lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(a, h, 0x00));
  mi = xor3(mi, _mm512_clmulepi64_epi128(a, h, 0x01), _mm512_clmulepi64_epi128(a, h, 0x10));
  hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(a, h, 0x11));
}

// Reduces the four lanes' sums and adds the lanes together.
CHORUS_VAES_INLINE __m128i reduce_and_sum(__m512i lo, __m512i mi, __m512i hi) {
  const __m512i poly = gf_poly512();
  mi = xor3(mi, swap_halves(lo), _mm512_clmulepi64_epi128(poly, lo, 0x01));
  hi = xor3(hi, swap_halves(mi), _mm512_clmulepi64_epi128(poly, mi, 0x01));
  const __m256i half = _mm256_xor_si256(_mm512_castsi512_si256(hi), _mm512_extracti64x4_epi64(hi, 1));
  return _mm_xor_si128(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
}

// One reduced product a * b (b a stored key power, or H^k * x for key setup).
CHORUS_VAES_INLINE __m128i gf_mul(__m128i a, __m128i b) {
  const __m128i poly = gf_poly128();
  const __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
  __m128i mi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
  __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
  mi = _mm_xor_si128(mi, _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(poly, lo, 0x01)));
  hi = _mm_xor_si128(hi, _mm_xor_si128(_mm_shuffle_epi32(mi, 0x4e), _mm_clmulepi64_si128(poly, mi, 0x01)));
  return hi;
}

// Round keys broadcast to all four lanes.
struct WideKeys {
  __m512i k[15];
};
CHORUS_VAES_INLINE void load_wide_keys(const Schedule& s, WideKeys& w) {
  for (int i = 0; i < 15; ++i)
    w.k[i] = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(s.round_keys[i])));
}

// AES-256 of 16 blocks in four registers, rounds interleaved across the registers.
CHORUS_VAES_INLINE void encrypt4(const WideKeys& w, __m512i& a, __m512i& b, __m512i& c, __m512i& d) {
  a = _mm512_xor_si512(a, w.k[0]);
  b = _mm512_xor_si512(b, w.k[0]);
  c = _mm512_xor_si512(c, w.k[0]);
  d = _mm512_xor_si512(d, w.k[0]);
#pragma GCC unroll 13
  for (int r = 1; r < 14; ++r) {
    a = _mm512_aesenc_epi128(a, w.k[r]);
    b = _mm512_aesenc_epi128(b, w.k[r]);
    c = _mm512_aesenc_epi128(c, w.k[r]);
    d = _mm512_aesenc_epi128(d, w.k[r]);
  }
  a = _mm512_aesenclast_epi128(a, w.k[14]);
  b = _mm512_aesenclast_epi128(b, w.k[14]);
  c = _mm512_aesenclast_epi128(c, w.k[14]);
  d = _mm512_aesenclast_epi128(d, w.k[14]);
}

CHORUS_VAES_INLINE __m128i encrypt_block(const Schedule& s, __m128i x) {
  x = _mm_xor_si128(x, _mm_load_si128(reinterpret_cast<const __m128i*>(s.round_keys[0])));
  for (int r = 1; r < 14; ++r) x = _mm_aesenc_si128(x, _mm_load_si128(reinterpret_cast<const __m128i*>(s.round_keys[r])));
  return _mm_aesenclast_si128(x, _mm_load_si128(reinterpret_cast<const __m128i*>(s.round_keys[14])));
}

CHORUS_VAES_INLINE __m512i load_powers(const Schedule& s, std::size_t first_slot) {
  return _mm512_loadu_si512(s.h_powers[first_slot]);
}

// Byte mask for the `bytes` (<= 64) leading bytes of a register.
inline __mmask64 leading_bytes(std::size_t bytes) { return bytes >= 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1; }

// H^16 .. H^1, four per register: the multipliers of one 16-block step.
struct StepPowers {
  __m512i p[4];
};
CHORUS_VAES_INLINE StepPowers load_step_powers(const Schedule& s) {
  return {{load_powers(s, 0), load_powers(s, 4), load_powers(s, 8), load_powers(s, 12)}};
}

// x <- (x + c_0) H^16 + c_1 H^15 + ... + c_15 H for the 16 blocks in c0..c3 (as stored).
CHORUS_VAES_INLINE __m128i ghash_step(__m128i x, __m512i c0, __m512i c1, __m512i c2, __m512i c3,
                                      const StepPowers& h) {
  const __m512i rev = byte_reverse512();
  __m512i lo = _mm512_setzero_si512(), mi = lo, hi = lo;
  mul_accumulate(_mm512_xor_si512(_mm512_shuffle_epi8(c0, rev), _mm512_zextsi128_si512(x)), h.p[0], lo, mi, hi);
  mul_accumulate(_mm512_shuffle_epi8(c1, rev), h.p[1], lo, mi, hi);
  mul_accumulate(_mm512_shuffle_epi8(c2, rev), h.p[2], lo, mi, hi);
  mul_accumulate(_mm512_shuffle_epi8(c3, rev), h.p[3], lo, mi, hi);
  return reduce_and_sum(lo, mi, hi);
}

// The next 16 counter blocks (as AES input), four per register.
struct Counters {
  __m512i next;  // swapped form, lanes = the next four counters
  CHORUS_VAES_INLINE explicit Counters(__m128i first)
      : next(_mm512_add_epi32(_mm512_broadcast_i32x4(first),
                              _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0))) {}
};
CHORUS_VAES_INLINE __m512i take_four(Counters& c) {
  const __m512i blocks = _mm512_shuffle_epi8(c.next, counter_swap512());
  c.next = _mm512_add_epi32(c.next, _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0));
  return blocks;
}
CHORUS_VAES_INLINE void next_counters(Counters& c, __m512i& k0, __m512i& k1, __m512i& k2, __m512i& k3) {
  k0 = take_four(c);
  k1 = take_four(c);
  k2 = take_four(c);
  k3 = take_four(c);
}

// k_i ^= in[64 i ..], stored to out; k_i then holds what was stored.
CHORUS_VAES_INLINE void xor_in_store(const unsigned char* in, unsigned char* out, __m512i& k0, __m512i& k1,
                                     __m512i& k2, __m512i& k3) {
  k0 = _mm512_xor_si512(k0, _mm512_loadu_si512(in));
  k1 = _mm512_xor_si512(k1, _mm512_loadu_si512(in + 64));
  k2 = _mm512_xor_si512(k2, _mm512_loadu_si512(in + 128));
  k3 = _mm512_xor_si512(k3, _mm512_loadu_si512(in + 192));
  _mm512_storeu_si512(out, k0);
  _mm512_storeu_si512(out + 64, k1);
  _mm512_storeu_si512(out + 128, k2);
  _mm512_storeu_si512(out + 192, k3);
}

// Asks for the step kPrefetchAhead bytes on. Large inputs come from memory, not cache, and the
// hardware prefetcher alone leaves the AES units waiting on them (prefetches never fault, so
// running past the end is harmless).
CHORUS_VAES_INLINE void prefetch_step(const unsigned char* p) {
  const char* q = reinterpret_cast<const char*>(p) + kPrefetchAhead;
  _mm_prefetch(q, _MM_HINT_T0);
  _mm_prefetch(q + 64, _MM_HINT_T0);
  _mm_prefetch(q + 128, _MM_HINT_T0);
  _mm_prefetch(q + 192, _MM_HINT_T0);
}

// Absorbs `len` bytes into GHASH state x (the last partial block zero-padded, as GCM pads both
// the associated data and the ciphertext). With kScan, also feeds every byte to `scan` (the
// padding is zeros, which are finite).
template <bool kScan>
CHORUS_VAES_TARGET __m128i ghash(const Schedule& s, __m128i x, const unsigned char* p, std::size_t len,
                                 FiniteScan& scan) {
  const __m512i rev = byte_reverse512();
  const StepPowers h = load_step_powers(s);
  for (; len >= kStepBytes; p += kStepBytes, len -= kStepBytes) {
    prefetch_step(p);
    const __m512i d0 = _mm512_loadu_si512(p), d1 = _mm512_loadu_si512(p + 64);
    const __m512i d2 = _mm512_loadu_si512(p + 128), d3 = _mm512_loadu_si512(p + 192);
    if constexpr (kScan) {
      scan.see(d0);
      scan.see(d1);
      scan.see(d2);
      scan.see(d3);
    }
    x = ghash_step(x, d0, d1, d2, d3, h);
  }
  if (len == 0) return x;
  // m < 16 blocks left: block j is multiplied by H^(m-j), i.e. powers from slot 16 - m on.
  const std::size_t blocks = (len + 15) / 16, first = 16 - blocks;
  __m512i lo = _mm512_setzero_si512(), mi = lo, hi = lo;
  for (std::size_t r = 0; r * 64 < len; ++r) {
    const __m512i raw = _mm512_maskz_loadu_epi8(leading_bytes(len - r * 64), p + r * 64);
    if constexpr (kScan) scan.see(raw);
    __m512i d = _mm512_shuffle_epi8(raw, rev);
    if (r == 0) d = _mm512_xor_si512(d, _mm512_zextsi128_si512(x));
    mul_accumulate(d, load_powers(s, first + 4 * r), lo, mi, hi);
  }
  return reduce_and_sum(lo, mi, hi);
}

// CTR-mode en/decryption of n bytes from counter block `counter` (in swapped form) on, with
// GHASH of the ciphertext (the output when encrypting, the input when decrypting) absorbed
// into x, which it returns. With kScan (decryption only), also feeds the plaintext to `scan`
// while it is still in registers.
template <bool kDecrypt, bool kScan>
CHORUS_VAES_TARGET __m128i ctr_ghash(const Schedule& s, __m128i counter, __m128i x, const unsigned char* in,
                                     std::size_t n, unsigned char* out, FiniteScan& scan) {
  static_assert(kDecrypt || !kScan, "only decryption scans its plaintext");
  WideKeys w;
  load_wide_keys(s, w);
  const StepPowers h = load_step_powers(s);
  Counters ctr(counter);
  if constexpr (kDecrypt) {
    for (; n >= kStepBytes; in += kStepBytes, out += kStepBytes, n -= kStepBytes) {
      __m512i k0, k1, k2, k3;
      next_counters(ctr, k0, k1, k2, k3);
      encrypt4(w, k0, k1, k2, k3);
      prefetch_step(in);
      const __m512i c0 = _mm512_loadu_si512(in), c1 = _mm512_loadu_si512(in + 64);
      const __m512i c2 = _mm512_loadu_si512(in + 128), c3 = _mm512_loadu_si512(in + 192);
      const __m512i p0 = _mm512_xor_si512(c0, k0), p1 = _mm512_xor_si512(c1, k1);
      const __m512i p2 = _mm512_xor_si512(c2, k2), p3 = _mm512_xor_si512(c3, k3);
      _mm512_storeu_si512(out, p0);
      _mm512_storeu_si512(out + 64, p1);
      _mm512_storeu_si512(out + 128, p2);
      _mm512_storeu_si512(out + 192, p3);
      if constexpr (kScan) {
        scan.see(p0);
        scan.see(p1);
        scan.see(p2);
        scan.see(p3);
      }
      x = ghash_step(x, c0, c1, c2, c3, h);
    }
  } else if (n >= kStepBytes) {
    // Each step's ciphertext is hashed during the next step's AES rounds, which do not
    // depend on it, so both units stay busy.
    __m512i c0, c1, c2, c3;
    next_counters(ctr, c0, c1, c2, c3);
    encrypt4(w, c0, c1, c2, c3);
    xor_in_store(in, out, c0, c1, c2, c3);
    for (in += kStepBytes, out += kStepBytes, n -= kStepBytes; n >= kStepBytes;
         in += kStepBytes, out += kStepBytes, n -= kStepBytes) {
      prefetch_step(in);
      __m512i k0, k1, k2, k3;
      next_counters(ctr, k0, k1, k2, k3);
      encrypt4(w, k0, k1, k2, k3);
      x = ghash_step(x, c0, c1, c2, c3, h);
      c0 = k0, c1 = k1, c2 = k2, c3 = k3;
      xor_in_store(in, out, c0, c1, c2, c3);
    }
    x = ghash_step(x, c0, c1, c2, c3, h);
  }
  if (n == 0) return x;
  // Fewer than 16 blocks left: one keystream step, masked loads and stores, zero-padded GHASH.
  const __m512i rev = byte_reverse512();
  __m512i k[4];
  next_counters(ctr, k[0], k[1], k[2], k[3]);
  encrypt4(w, k[0], k[1], k[2], k[3]);
  const std::size_t blocks = (n + 15) / 16, first = 16 - blocks;
  __m512i lo = _mm512_setzero_si512(), mi = lo, hi = lo;
  for (std::size_t r = 0; r * 64 < n; ++r) {
    const __mmask64 mask = leading_bytes(n - r * 64);
    const __m512i i = _mm512_maskz_loadu_epi8(mask, in + r * 64);
    const __m512i o = _mm512_xor_si512(i, k[r]);
    _mm512_mask_storeu_epi8(out + r * 64, mask, o);
    if constexpr (kScan) scan.see(_mm512_maskz_mov_epi8(mask, o));  // bytes past the end count as zeros
    __m512i c = _mm512_shuffle_epi8(kDecrypt ? i : _mm512_maskz_mov_epi8(mask, o), rev);
    if (r == 0) c = _mm512_xor_si512(c, _mm512_zextsi128_si512(x));
    mul_accumulate(c, load_powers(s, first + 4 * r), lo, mi, hi);
  }
  return reduce_and_sum(lo, mi, hi);
}

// The whole of GCM but the final tag comparison: returns the expected tag.
// kScan: feed the plaintext (when n > 0) or else the associated data (a GMAC) to `scan`.
template <bool kDecrypt, bool kScan>
CHORUS_VAES_TARGET __m128i gcm(const Schedule& s, const unsigned char nonce[12], const unsigned char* ad,
                               std::size_t ad_len, const unsigned char* in, std::size_t n, unsigned char* out,
                               FiniteScan& scan) {
  alignas(16) unsigned char block[16];
  std::memcpy(block, nonce, 12);
  block[12] = 0, block[13] = 0, block[14] = 0, block[15] = 1;  // J0 = nonce | 1 (big endian)
  const __m128i j0 = _mm_load_si128(reinterpret_cast<const __m128i*>(block));
  block[12] = 2, block[13] = 0, block[14] = 0, block[15] = 0;  // first data counter, 2, in swapped form
  const __m128i first_counter = _mm_load_si128(reinterpret_cast<const __m128i*>(block));

  __m128i x = _mm_setzero_si128();
  if (kScan && n == 0) {
    if (ad_len) x = ghash<true>(s, x, ad, ad_len, scan);
  } else if (ad_len) {
    x = ghash<false>(s, x, ad, ad_len, scan);
  }
  if (n) x = ctr_ghash<kDecrypt, kScan>(s, first_counter, x, in, n, out, scan);
  // Length block: bit lengths of AD and ciphertext, big endian; byte-reversed that puts the
  // ciphertext length in the low qword.
  const __m128i lengths = _mm_set_epi64x(static_cast<long long>(ad_len * 8), static_cast<long long>(n * 8));
  x = gf_mul(_mm_xor_si128(x, lengths), _mm_load_si128(reinterpret_cast<const __m128i*>(s.h_powers[15])));
  return _mm_xor_si128(_mm_shuffle_epi8(x, byte_reverse128()), encrypt_block(s, j0));
}

// AES-256 key expansion with AESKEYGENASSIST (FIPS-197 5.2): the rcon must be an immediate.
CHORUS_VAES_INLINE __m128i spread(__m128i k) {
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  return _mm_xor_si128(k, _mm_slli_si128(k, 4));
}
template <int kRcon>
CHORUS_VAES_INLINE __m128i next_even(__m128i even, __m128i odd) {
  return _mm_xor_si128(spread(even), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(odd, kRcon), 0xff));
}
CHORUS_VAES_INLINE __m128i next_odd(__m128i odd, __m128i even) {
  return _mm_xor_si128(spread(odd), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(even, 0), 0xaa));
}

CHORUS_VAES_TARGET void expand_impl(const unsigned char key[32], Schedule& s) {
  __m128i rk[15];
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  rk[2] = next_even<0x01>(rk[0], rk[1]);
  rk[3] = next_odd(rk[1], rk[2]);
  rk[4] = next_even<0x02>(rk[2], rk[3]);
  rk[5] = next_odd(rk[3], rk[4]);
  rk[6] = next_even<0x04>(rk[4], rk[5]);
  rk[7] = next_odd(rk[5], rk[6]);
  rk[8] = next_even<0x08>(rk[6], rk[7]);
  rk[9] = next_odd(rk[7], rk[8]);
  rk[10] = next_even<0x10>(rk[8], rk[9]);
  rk[11] = next_odd(rk[9], rk[10]);
  rk[12] = next_even<0x20>(rk[10], rk[11]);
  rk[13] = next_odd(rk[11], rk[12]);
  rk[14] = next_even<0x40>(rk[12], rk[13]);
  for (int i = 0; i < 15; ++i) _mm_store_si128(reinterpret_cast<__m128i*>(s.round_keys[i]), rk[i]);

  // H = AES(0), byte-reversed, times x mod G: a 128-bit left shift, G's low terms XORed in when
  // a bit falls off the top (without a key-dependent branch).
  const __m128i h = _mm_shuffle_epi8(encrypt_block(s, _mm_setzero_si128()), byte_reverse128());
  std::uint64_t lo = static_cast<std::uint64_t>(_mm_cvtsi128_si64(h));
  std::uint64_t hi = static_cast<std::uint64_t>(_mm_extract_epi64(h, 1));
  const std::uint64_t carry = 0 - (hi >> 63);
  hi = (hi << 1 | lo >> 63) ^ (carry & 0xc200000000000000ull);
  lo = (lo << 1) ^ (carry & 1);
  const __m128i h1 = _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
  __m128i power = h1;
  _mm_store_si128(reinterpret_cast<__m128i*>(s.h_powers[15]), power);
  for (int k = 2; k <= 16; ++k) {
    power = gf_mul(power, h1);
    _mm_store_si128(reinterpret_cast<__m128i*>(s.h_powers[16 - k]), power);
  }
  for (int i = 16; i < 20; ++i) _mm_store_si128(reinterpret_cast<__m128i*>(s.h_powers[i]), _mm_setzero_si128());
}

CHORUS_VAES_TARGET void seal_impl(const Schedule& s, const unsigned char nonce[12], const unsigned char* ad,
                                  std::size_t ad_len, const unsigned char* in, std::size_t n, unsigned char* out,
                                  unsigned char tag[16]) {
  FiniteScan unused;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), gcm<false, false>(s, nonce, ad, ad_len, in, n, out, unused));
}

CHORUS_VAES_TARGET bool open_impl(const Schedule& s, const unsigned char nonce[12], const unsigned char* ad,
                                  std::size_t ad_len, const unsigned char* in, std::size_t n, unsigned char* out,
                                  const unsigned char tag[16], bool* all_finite_f32) {
  FiniteScan scan;
  const __m128i expected = all_finite_f32 ? gcm<true, true>(s, nonce, ad, ad_len, in, n, out, scan)
                                          : gcm<true, false>(s, nonce, ad, ad_len, in, n, out, scan);
  if (all_finite_f32) *all_finite_f32 = scan.all_finite();
  const __m128i diff = _mm_xor_si128(expected, _mm_loadu_si128(reinterpret_cast<const __m128i*>(tag)));
  const bool ok = _mm_testz_si128(diff, diff) != 0;  // one instruction over all 16 bytes: constant time
  if (!ok && n) std::memset(out, 0, n);
  return ok;
}

}  // namespace

namespace {
bool has_vaes_and_vpclmulqdq() {
#if defined(__clang__)
  // clang's __builtin_cpu_supports knows neither name before clang 16: CPUID leaf 7, ECX bits
  // 9 and 10. (The AVX-512 check below covers the OS's register state.)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx >> 9 & 1) && (ecx >> 10 & 1);
#else
  return __builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq");
#endif
}
}  // namespace

bool supported() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return has_vaes_and_vpclmulqdq() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("aes") &&
           __builtin_cpu_supports("pclmul");
  }();
  return yes;
}

void expand(const unsigned char key[32], Schedule& s) { expand_impl(key, s); }

void seal(const Schedule& s, const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len,
          const unsigned char* in, std::size_t n, unsigned char* out, unsigned char tag[16]) {
  seal_impl(s, nonce, ad, ad_len, in, n, out, tag);
}

bool open(const Schedule& s, const unsigned char nonce[12], const unsigned char* ad, std::size_t ad_len,
          const unsigned char* in, std::size_t n, unsigned char* out, const unsigned char tag[16],
          bool* all_finite_f32) {
  return open_impl(s, nonce, ad, ad_len, in, n, out, tag, all_finite_f32);
}

}  // namespace chorus::aes_gcm::vaes
