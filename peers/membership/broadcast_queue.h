#pragma once
// BroadcastQueue: the updates waiting to be piggybacked on probes, acks and gossip (like
// memberlist's TransmitLimitedQueue). At most one update per member is queued: a newer one
// replaces it. take() hands out the least-transmitted updates first (newest first among
// equals) and drops each once it has gone out `limit` times, so the queue is bounded by the
// number of members and every update reaches ~limit members.
//
// Not thread-safe; owned by the membership thread.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "peers/membership/member_table.h"

namespace chorus::membership {

class BroadcastQueue {
 public:
  void push(const MemberRecord& update);
  // Up to `max_count` updates of at most `max_bytes` encoded bytes in all (at least one when
  // any is queued), counting one transmission each.
  std::vector<MemberRecord> take(std::size_t max_count, std::size_t max_bytes, int limit);
  std::size_t size() const { return queued_.size(); }
  bool empty() const { return queued_.empty(); }
  void clear() { queued_.clear(); }

 private:
  struct Entry {
    MemberRecord update;
    int transmits = 0;
    std::uint64_t order = 0;  // when it was queued
  };
  std::unordered_map<PeerId, Entry> queued_;
  std::uint64_t next_order_ = 0;
};

}  // namespace chorus::membership
