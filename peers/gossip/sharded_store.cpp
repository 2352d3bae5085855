#include "peers/gossip/sharded_store.h"

#include <set>

#include <algorithm>
#include <cstring>

#include "peers/gossip/letter_kinds.h"
#include "topology/hash_order.h"

namespace chorus::gossip {
namespace {

constexpr std::uint64_t kSaltShard = 0x73686172645f6f77ull;
constexpr std::size_t kMaxShards = 16;

std::uint64_t score(PeerId id, std::size_t shard) {
  return splitmix64(peer_hash(id) ^ splitmix64(kSaltShard + shard));
}

// The members of `view` in descending rendezvous score for `shard` (the first two only).
std::pair<std::optional<PeerId>, std::optional<PeerId>> top_two(const View& view, std::size_t shard) {
  std::optional<PeerId> first, second;
  std::uint64_t s1 = 0, s2 = 0;
  for (const auto& m : view.members) {
    const std::uint64_t s = score(m.id, shard);
    if (!first || s > s1) {
      second = first;
      s2 = s1;
      first = m.id;
      s1 = s;
    } else if (!second || s > s2) {
      second = m.id;
      s2 = s;
    }
  }
  return {first, second};
}

std::uint64_t fnv1a(const std::vector<float>& v) {
  std::uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < v.size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

ShardAnswer answer_of(const Letter& l) {
  ShardAnswer a;
  a.status = l.head.store.status;
  a.currency = l.head.value;
  a.values = l.values;
  return a;
}

}  // namespace

std::size_t ShardedStore::shard_count_for(std::size_t total) { return std::max<std::size_t>(1, std::min(kMaxShards, total)); }

std::optional<PeerId> ShardedStore::owner(const View& view, std::size_t shard) { return top_two(view, shard).first; }

std::optional<PeerId> ShardedStore::replica(const View& view, std::size_t shard) {
  return top_two(view, shard).second;
}

ShardedStore::ShardedStore(GossipChannel& channel, Membership& membership, PeerId self, std::size_t total,
                           StoreConfig config)
    : channel_(channel),
      membership_(membership),
      self_(self),
      total_(total),
      shards_(shard_count_for(total)),
      config_(config),
      mailbox_(4 * kMaxShards) {
  channel_.on(kStoreRequest, [this](Letter&& l) { on_request(std::move(l)); });
  channel_.on(kStoreReply, [this](Letter&& l) { on_reply(std::move(l)); });
  channel_.on(kStoreCopy, [this](Letter&& l) { on_copy(std::move(l)); });
  channel_.on_tick([this] { tick(); });
}

std::pair<std::size_t, std::size_t> ShardedStore::range(std::size_t shard) const {
  return {shard * total_ / shards_, (shard + 1) * total_ / shards_};
}

ShardAnswer ShardedStore::apply_locked(StoreOp op, std::size_t shard, std::span<const float> data,
                                       const LetterHead& head) {
  newest_step_ = std::max(newest_step_, head.step);
  ShardAnswer a;
  if (config_.dynamic) a.currency = currency({head.step, head.since_start, 0.0}, newest_step_, config_.weights);
  auto it = held_.find(shard);
  if (it == held_.end()) {
    if (op == StoreOp::add_fetch) {
      a.status = StoreStatus::missing;
      return a;
    }
    Shard s;
    s.version = 1;
    s.dirty = true;
    s.value.assign(data.begin(), data.end());
    a.values = s.value;
    held_[shard] = std::move(s);
    return a;
  }
  Shard& s = it->second;
  switch (op) {
    case StoreOp::elastic: {
      a.values = s.value;  // the center before the update
      const float rate = config_.dynamic ? static_cast<float>(config_.alpha * a.currency) : config_.alpha;
      for (std::size_t j = 0; j < s.value.size(); ++j) s.value[j] = s.value[j] + rate * (data[j] - a.values[j]);
      break;
    }
    case StoreOp::add_fetch: {
      const float c = static_cast<float>(a.currency);
      if (config_.dynamic)
        for (std::size_t j = 0; j < s.value.size(); ++j) s.value[j] += c * data[j];
      else
        for (std::size_t j = 0; j < s.value.size(); ++j) s.value[j] += data[j];
      a.values = s.value;
      break;
    }
    case StoreOp::init:
      a.values = s.value;
      return a;
  }
  ++s.version;
  s.dirty = true;
  return a;
}

std::vector<std::optional<ShardAnswer>> ShardedStore::request_all(StoreOp op, std::span<const float> data,
                                                                  const LetterHead& head,
                                                                  Mailbox::Clock::time_point deadline,
                                                                  const std::function<bool()>& stopping,
                                                                  const std::vector<bool>& only) {
  std::vector<std::optional<ShardAnswer>> answers(shards_);
  if (data.size() != total_) return answers;
  const View v = membership_.view();
  struct Sent {
    std::uint64_t id;
    std::size_t shard;
    PeerId owner;
  };
  std::vector<Sent> sent;
  // An owner that does not take a request (dead, not yet out of the view) is not asked again
  // in this call: each try would cost a whole send timeout.
  std::set<PeerId> unreachable;
  for (std::size_t k = 0; k < shards_; ++k) {
    if (!only.empty() && (k >= only.size() || !only[k])) continue;
    const auto o = owner(v, k);
    if (!o || unreachable.count(*o) || (*o != self_ && !membership_.is_member(*o))) continue;
    const auto [b, e] = range(k);
    const auto part = data.subspan(b, e - b);
    if (*o == self_) {
      std::lock_guard lock(mutex_);
      answers[k] = apply_locked(op, k, part, head);
      continue;
    }
    const int idx = v.index_of(*o);
    LetterHead h = head;
    h.kind = kStoreRequest;
    h.id = channel_.next_id();
    h.store.shard = k;
    h.store.op = op;
    {
      std::lock_guard lock(mutex_);
      waiting_[h.id] = {k, std::vector<float>(part.begin(), part.end()), *o};
    }
    if (channel_.send(v.members[static_cast<std::size_t>(idx)].address, h, part)) {
      sent.push_back({h.id, k, *o});
    } else {
      unreachable.insert(*o);
      std::lock_guard lock(mutex_);
      waiting_.erase(h.id);
    }
  }
  for (const auto& s : sent) {
    // A peer that has not started its strategy yet: wait for it only briefly.
    const auto until = channel_.started(s.owner, membership_)
                           ? deadline
                           : std::min(deadline, Mailbox::Clock::now() + channel_.timings().first_contact_timeout);
    auto l = mailbox_.wait({kStoreReply}, s.owner, s.id, until, channel_.timings().poll,
                           [&] { return stopping() || !membership_.is_member(s.owner); });
    std::lock_guard lock(mutex_);
    if (!l) l = mailbox_.take({kStoreReply}, s.owner, s.id);
    auto it = waiting_.find(s.id);
    if (l) {
      answers[s.shard] = answer_of(*l);
    } else if (it != waiting_.end() && membership_.is_member(s.owner)) {
      abandoned_[s.id] = std::move(it->second);
    }
    if (it != waiting_.end()) waiting_.erase(it);
  }
  return answers;
}

void ShardedStore::on_request(Letter&& l) {
  const std::size_t k = l.head.store.shard;
  if (k >= shards_) return;
  const auto [b, e] = range(k);
  const StoreOp op = l.head.store.op;
  if (op != StoreOp::elastic && op != StoreOp::add_fetch && op != StoreOp::init) return;
  if (l.values.size() != e - b) return;
  LetterHead h;
  h.kind = kStoreReply;
  h.ref = l.head.id;
  h.store.shard = k;
  ShardAnswer a;
  const View v = membership_.view();
  if (owner(v, k) != self_) {
    a.status = StoreStatus::not_owner;
  } else {
    std::lock_guard lock(mutex_);
    a = apply_locked(op, k, l.values, l.head);
  }
  h.store.status = a.status;
  h.value = a.currency;
  channel_.send(l.from, h, a.values);
}

void ShardedStore::on_reply(Letter&& l) {
  std::unique_lock lock(mutex_);
  const std::uint64_t id = l.head.ref;
  if (waiting_.count(id)) {
    mailbox_.put(std::move(l), id);
    return;
  }
  auto it = abandoned_.find(id);
  if (it == abandoned_.end()) return;
  Outstanding o = std::move(it->second);
  abandoned_.erase(it);
  lock.unlock();
  if (late_) late_(o.shard, o.sent, answer_of(l));
}

void ShardedStore::on_copy(Letter&& l) {
  const std::size_t k = l.head.store.shard;
  if (k >= shards_) return;
  const auto [b, e] = range(k);
  if (l.values.size() != e - b) return;
  const bool mine = owner(membership_.view(), k) == self_;
  std::lock_guard lock(mutex_);
  auto it = held_.find(k);
  if (it != held_.end() && it->second.version >= l.head.store.version) return;
  Shard s;
  s.version = l.head.store.version;
  s.dirty = mine;  // an owner passes what it receives on to its replica
  s.value = std::move(l.values);
  held_[k] = std::move(s);
}

bool ShardedStore::send_copy(const std::string& to, std::size_t shard, const Shard& s,
                             std::chrono::milliseconds timeout) {
  LetterHead h;
  h.kind = kStoreCopy;
  h.store.shard = shard;
  h.store.version = s.version;
  return channel_.send(to, h, s.value, timeout);
}

void ShardedStore::tick() {
  const View v = membership_.view();
  struct Out {
    std::string to;
    std::size_t shard;
    Shard copy;
  };
  std::vector<Out> out;
  {
    std::lock_guard lock(mutex_);
    const bool changed = v.number != view_number_;
    view_number_ = v.number;
    auto address = [&](PeerId id) { return v.members[static_cast<std::size_t>(v.index_of(id))].address; };
    for (auto it = held_.begin(); it != held_.end();) {
      const std::size_t k = it->first;
      Shard& s = it->second;
      const auto [o, r] = top_two(v, k);
      if (!o) {
        ++it;
        continue;
      }
      if (*o == self_) {
        if ((changed || s.dirty) && r) out.push_back({address(*r), k, s});
        s.dirty = false;
        ++it;
        continue;
      }
      if (!changed) {
        ++it;
        continue;
      }
      out.push_back({address(*o), k, s});  // hand over, or refresh the owner
      if (r != self_) {
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
    if (changed)
      for (auto it = abandoned_.begin(); it != abandoned_.end();)
        it = membership_.is_member(it->second.owner) ? std::next(it) : abandoned_.erase(it);
  }
  // The channel thread also answers the store's requests: a replica that does not take its
  // copy at once (a member that died and is not yet out of the view) is skipped for the rest
  // of this tick rather than blocking those answers; the next tick sends a fresher copy.
  const auto timeout = std::min(channel_.timings().send_timeout, std::chrono::milliseconds(100));
  std::set<std::string> unreachable;
  for (const auto& o : out)
    if (!unreachable.count(o.to) && !send_copy(o.to, o.shard, o.copy, timeout)) unreachable.insert(o.to);
}

void ShardedStore::hand_over() {
  View v = membership_.view();
  const int me = v.index_of(self_);
  if (me >= 0) v.members.erase(v.members.begin() + me);
  std::vector<std::pair<std::size_t, Shard>> held;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [k, s] : held_) held.emplace_back(k, s);
  }
  for (const auto& [k, s] : held) {
    const auto [o, r] = top_two(v, k);
    for (const auto& id : {o, r}) {
      if (!id) continue;
      send_copy(v.members[static_cast<std::size_t>(v.index_of(*id))].address, k, s, channel_.timings().send_timeout);
    }
  }
}

nlohmann::json ShardedStore::diagnostics() const {
  const View v = membership_.view();
  std::lock_guard lock(mutex_);
  nlohmann::json shards = nlohmann::json::object();
  for (const auto& [k, s] : held_) {
    double sum = 0;
    for (float x : s.value) sum += x;
    shards[std::to_string(k)] = {
        {"owner", owner(v, k) == self_}, {"version", s.version}, {"hash", fnv1a(s.value)}, {"sum", sum}};
  }
  return {{"shards", shards}, {"abandoned", abandoned_.size()}};
}

std::optional<std::pair<std::uint64_t, std::vector<float>>> ShardedStore::held(std::size_t shard) const {
  std::lock_guard lock(mutex_);
  auto it = held_.find(shard);
  if (it == held_.end()) return std::nullopt;
  return std::make_pair(it->second.version, it->second.value);
}

}  // namespace chorus::gossip
