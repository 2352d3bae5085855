#pragma once
// RingGeometry: how a buffer of `length` floats is cut for a ring of `members` members —
// one segment per member (segment s is [s*length/N, (s+1)*length/N), so sizes differ by at
// most one and lengths below N leave empty segments), each segment cut into chunks of at most
// `chunk_elements` elements (the last one shorter) — and in which order a member at ring
// position p sends and receives them.
//
// A member at position p sends to p+1 and receives from p-1 (mod N). It sends, in order:
//   reduce-scatter step t = 0..N-2: segment (p - t) mod N   (its own values at t = 0, then
//                                                             the partial sums it reduced)
//   all-gather step t = 0..N-2:     segment (p + 1 - t) mod N (final values)
// and receives the same stream of its left neighbour:
//   reduce-scatter step t: segment (p - 1 - t) mod N; all-gather step t: segment (p - t) mod N.
// After reduce-scatter, member p owns the final values of segment (p + 1) mod N.
// Pure arithmetic; no state beyond the sizes.
#include <cstddef>
#include <vector>

namespace chorus::ring {

struct ChunkRef {
  std::size_t begin = 0;  // first element
  std::size_t count = 0;  // elements (>= 1)
  std::size_t index = 0;  // global chunk number, 0..total_chunks()-1, in buffer order
};

enum class Phase { reduce_scatter, all_gather };

class RingGeometry {
 public:
  RingGeometry(std::size_t length, std::size_t members, std::size_t chunk_elements);

  std::size_t length() const { return length_; }
  std::size_t members() const { return members_; }
  std::size_t chunk_elements() const { return chunk_; }

  std::size_t segment_begin(std::size_t segment) const;  // segment in [0, N]
  std::size_t segment_size(std::size_t segment) const;
  std::size_t chunks_in(std::size_t segment) const;
  ChunkRef chunk(std::size_t segment, std::size_t j) const;
  std::size_t total_chunks() const;

  // The segment member `position` sends / receives at `step` of `phase`.
  std::size_t sent_segment(std::size_t position, Phase phase, std::size_t step) const;
  std::size_t received_segment(std::size_t position, Phase phase, std::size_t step) const;
  // The segment whose final values member `position` computes.
  std::size_t owned_segment(std::size_t position) const { return (position + 1) % members_; }

 private:
  std::size_t wrap(std::size_t position, std::size_t minus) const;  // (position - minus) mod N

  std::size_t length_;
  std::size_t members_;
  std::size_t chunk_;
  std::vector<std::size_t> chunk_base_;  // global number of each segment's first chunk; [N] = total
};

// Elements per chunk for a segment of `segment_elements` elements when none is configured:
// half the segment, between 256 KiB and 1 MiB of floats. Every message costs a few thread
// wake-ups along the transport, so small buffers go in whole segments; large ones in 1 MiB
// chunks, which still pipeline and stay within a core's L2 cache while they are reduced.
std::size_t auto_chunk_elements(std::size_t segment_elements);

}  // namespace chorus::ring
