#pragma once
// The reductions of the ring all-reduce: one pass over a chunk each, vectorised by the compiler
// (the loops have no aliasing and no dependencies; -march=native picks the widest vectors).
// `dst` and `src` never overlap. `a` is this member's weight, `s` the final scale.
#include <cstddef>

namespace chorus::ring {

void add(float* dst, const float* src, std::size_t n);                         // dst += src
void weigh_add(float* dst, float a, const float* src, std::size_t n);          // dst = a*dst + src
void add_scale(float* dst, const float* src, float s, std::size_t n);          // dst = (dst + src) * s
void weigh_add_scale(float* dst, float a, const float* src, float s, std::size_t n);  // (a*dst + src) * s
void scale(float* dst, float s, std::size_t n);                                // dst *= s

// Combines a received partial sum into this member's values: dst = a*dst + src, times s when
// `last` (the segment's final step). a == 1 and s == 1 take the plain add, so integer-valued
// sums stay exact.
void combine(float* dst, float a, const float* src, float s, bool last, std::size_t n);

bool all_finite(const float* data, std::size_t n);

}  // namespace chorus::ring
