#include "peers/membership/broadcast_queue.h"

#include <algorithm>

#include "peers/membership/codec.h"

namespace chorus::membership {

void BroadcastQueue::push(const MemberRecord& update) {
  Entry& e = queued_[update.member.id];
  e.update = update;
  e.transmits = 0;
  e.order = next_order_++;
}

std::vector<MemberRecord> BroadcastQueue::take(std::size_t max_count, std::size_t max_bytes, int limit) {
  std::vector<Entry*> order;
  order.reserve(queued_.size());
  for (auto& [id, e] : queued_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->transmits != b->transmits ? a->transmits < b->transmits : a->order > b->order;
  });
  std::vector<MemberRecord> out;
  std::size_t bytes = 0;
  std::vector<PeerId> done;
  for (Entry* e : order) {
    if (out.size() >= max_count) break;
    const std::size_t size = encoded_size(e->update);
    if (!out.empty() && bytes + size > max_bytes) continue;
    bytes += size;
    out.push_back(e->update);
    if (++e->transmits >= limit) done.push_back(e->update.member.id);
  }
  for (PeerId id : done) queued_.erase(id);
  return out;
}

}  // namespace chorus::membership
