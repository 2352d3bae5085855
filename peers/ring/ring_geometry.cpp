#include "peers/ring/ring_geometry.h"

#include <algorithm>

#include "foundations/base/error.h"

namespace chorus::ring {

RingGeometry::RingGeometry(std::size_t length, std::size_t members, std::size_t chunk_elements)
    : length_(length), members_(members), chunk_(chunk_elements) {
  CHORUS_CHECK(members >= 1, "a ring has at least one member");
  CHORUS_CHECK(chunk_elements >= 1, "a chunk holds at least one element");
  chunk_base_.resize(members + 1, 0);
  for (std::size_t s = 0; s < members; ++s) chunk_base_[s + 1] = chunk_base_[s] + chunks_in(s);
}

std::size_t RingGeometry::segment_begin(std::size_t segment) const {
  // floor(segment * length / N) without overflow: length = q*N + r.
  const std::size_t q = length_ / members_, r = length_ % members_;
  return segment * q + (segment * r) / members_;
}

std::size_t RingGeometry::segment_size(std::size_t segment) const {
  return segment_begin(segment + 1) - segment_begin(segment);
}

std::size_t RingGeometry::chunks_in(std::size_t segment) const {
  return (segment_size(segment) + chunk_ - 1) / chunk_;
}

ChunkRef RingGeometry::chunk(std::size_t segment, std::size_t j) const {
  const std::size_t begin = segment_begin(segment) + j * chunk_;
  const std::size_t end = segment_begin(segment + 1);
  CHORUS_CHECK(begin < end, "chunk outside its segment");
  return {begin, std::min(chunk_, end - begin), chunk_base_[segment] + j};
}

std::size_t RingGeometry::total_chunks() const {
  return chunk_base_[members_];
}

std::size_t RingGeometry::wrap(std::size_t position, std::size_t minus) const {
  return (position + members_ * 2 - minus % members_) % members_;
}

std::size_t RingGeometry::sent_segment(std::size_t position, Phase phase, std::size_t step) const {
  return phase == Phase::reduce_scatter ? wrap(position, step) : wrap(position + 1, step);
}

std::size_t RingGeometry::received_segment(std::size_t position, Phase phase, std::size_t step) const {
  return phase == Phase::reduce_scatter ? wrap(position, step + 1) : wrap(position, step);
}

std::size_t auto_chunk_elements(std::size_t segment_elements) {
  constexpr std::size_t kMin = (256u << 10) / sizeof(float), kMax = (1u << 20) / sizeof(float);
  return std::clamp<std::size_t>(segment_elements / 2, kMin, kMax);
}

}  // namespace chorus::ring
