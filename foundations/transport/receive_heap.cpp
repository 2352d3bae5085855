#include "foundations/transport/receive_heap.h"

#include <algorithm>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace chorus {

void keep_receive_buffers_on_heap(std::size_t largest_block) {
#if defined(__GLIBC__)
  static std::mutex mutex;
  static std::size_t applied = 0;  // the mmap threshold set so far (0: none)
  // A frame body of up to `largest_block` bytes, plus ZeroMQ's message header.
  const std::size_t threshold = std::max<std::size_t>(largest_block + (64u << 10), std::size_t{32} << 20);
  std::lock_guard lock(mutex);
  if (threshold <= applied) return;
  if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<std::size_t>(threshold, 1u << 30))) == 1) {
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<std::size_t>(4 * threshold, 1u << 30)));
    applied = threshold;
  }
#else
  (void)largest_block;
#endif
}

}  // namespace chorus
