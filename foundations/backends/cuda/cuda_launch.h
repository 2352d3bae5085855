#pragma once
// Launch geometry shared by the CUDA backend's kernels: every elementwise kernel is a
// grid-stride loop over n elements in blocks of kThreads, so any n is covered by a bounded
// grid. Host-side helpers only; included by the backend's .cu files.
#include <algorithm>
#include <climits>
#include <cstddef>

#include "foundations/base/error.h"

namespace chorus::cuda_detail {

constexpr int kThreads = 256;
// Enough blocks to fill any current GPU several times over; larger n loops inside the kernel.
constexpr std::size_t kMaxBlocks = 8192;

inline unsigned blocks_for(std::size_t n) {
  const std::size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, kMaxBlocks));
}

// Kernels with 2-D/4-D index arithmetic use int; this checks the element count fits.
inline int checked_int(std::size_t n, const char* what) {
  CHORUS_CHECK(n <= static_cast<std::size_t>(INT_MAX), what);
  return static_cast<int>(n);
}

}  // namespace chorus::cuda_detail
