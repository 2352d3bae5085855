#pragma once
// keep_receive_buffers_on_heap: makes glibc's malloc keep large freed blocks for reuse, so that
// the receive buffers ZeroMQ allocates for every incoming frame part (one per parameter chunk,
// typically 1 MiB) come from memory already mapped and touched instead of being mapped,
// faulted in page by page and given back to the kernel chunk after chunk.
//
// With glibc's defaults a block freed by another thread than the one that allocated it (ZeroMQ's
// I/O thread allocates, the transport's or the caller's thread frees) regularly leaves more free
// memory at the top of the I/O thread's heap than the trim threshold, which is then returned to
// the kernel (madvise) and faulted in again for the next chunks, at a large cost in throughput
// (docs/transport.md, "Benchmark", has the measurements).
//
// Process-wide and once per process (the first ZeroMQ transport calls it): blocks up to
// `largest_block` bytes (at least 32 MiB) are served from the heap, not mmap, and the heap
// keeps up to four times that much free memory before trimming. A later call only ever raises
// what an earlier call of this function set. A no-op on C libraries other than glibc.
// Thread-safe.
#include <cstddef>

namespace chorus {

void keep_receive_buffers_on_heap(std::size_t largest_block);

}  // namespace chorus
