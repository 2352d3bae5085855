#pragma once
// FiniteScan: wire::all_finite_f32's test on 64-byte AVX-512 registers as they go by, for code
// that has the bytes in registers anyway (the decryption that checks parameter payloads in the
// same pass, and all_finite_f32's own AVX-512 loop). A 4-byte word is a NaN or an infinity
// exactly when its exponent bits (0x7f800000) are all ones. The scan keeps, per 32-bit lane, the
// minimum of (~word & exponent) over everything it saw: a lane reaches 0 exactly when some word
// there had an all-ones exponent. Two instructions per register.
//
// x86-64 with GCC or Clang only; callers must be compiled for AVX-512F (a target attribute) and
// run only where the CPU has it.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define CHORUS_AVX512F_INLINE __attribute__((target("avx512f"))) inline __attribute__((always_inline))

namespace chorus::wire {

struct FiniteScan {
  __m512i low;
  CHORUS_AVX512F_INLINE FiniteScan() : low(_mm512_set1_epi32(0x7f800000)) {}
  CHORUS_AVX512F_INLINE void see(__m512i words) {
    low = _mm512_min_epu32(low, _mm512_andnot_si512(words, _mm512_set1_epi32(0x7f800000)));
  }
  CHORUS_AVX512F_INLINE bool all_finite() const { return _mm512_cmpeq_epi32_mask(low, _mm512_setzero_si512()) == 0; }
};

}  // namespace chorus::wire

#endif
