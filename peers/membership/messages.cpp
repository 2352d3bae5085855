// Sending and receiving membership messages: piggybacking, join, sync, gossip and leave.
#include <algorithm>

#include "peers/membership/membership_impl.h"
#include "peers/membership/timings.h"

namespace chorus {

using namespace membership;
using std::chrono::milliseconds;

namespace {
constexpr std::size_t kPiggybackCount = 32;      // updates per message
constexpr std::size_t kPiggybackBytes = 16384;   // and their encoded bytes
}  // namespace

bool Membership::Impl::send(const std::string& to, Message& message, std::optional<milliseconds> wait) {
  const MemberRecord& me = own();
  message.sender.incarnation = me.member.incarnation;
  message.sender.version = me.version;
  message.sender.state = leaving ? MemberState::left : MemberState::alive;
  message.sender.group = me.member.group;
  message.sender.meta = me.member.meta;
  SendStatus status = SendStatus::kUnreachable;
  try {
    const std::vector<std::byte> bytes = encode(message);
    const milliseconds limit = wait.value_or(send_wait);
    const Clock::time_point t0 = Clock::now();
    status = transport.send(to, message.type, bytes, limit);
    // At most the send's own limit: a process stopped mid-send is still a stall.
    accounted += std::min<Clock::duration>(Clock::now() - t0, limit);
  } catch (const std::exception&) {
    // An address this transport cannot reach (another host without a swarm key, ...).
  }
  if (status != SendStatus::kOk) count(&MembershipStats::sends_failed);
  return status == SendStatus::kOk;
}

void Membership::Impl::piggyback(Message& message) {
  std::size_t live;
  {
    std::lock_guard lock(mutex);
    live = table.live_count();
  }
  message.records = broadcasts.take(kPiggybackCount, kPiggybackBytes, retransmit_limit(timings, live));
}

std::vector<const MemberRecord*> Membership::Impl::random_members(std::size_t n, PeerId exclude, bool alive_only) {
  std::vector<const MemberRecord*> out;
  for (PeerId id : table.live_ids()) {
    if (id == self_id || id == exclude) continue;
    const MemberRecord* r = table.find(id);
    if (alive_only && r->state != MemberState::alive) continue;
    out.push_back(r);
  }
  std::shuffle(out.begin(), out.end(), rng);
  if (out.size() > n) out.resize(n);
  return out;
}

void Membership::Impl::handle(const ReceivedMessage& received) {
  count(&MembershipStats::messages_received);
  if (received.sender_id == self_id) return;  // our own join, sent to a seed that is us
  Decoded decoded = decode(received.type, received.bytes());
  // The transport vouches for who sent it; what the sender says of itself must agree.
  if (!decoded.message || received.sender_id == 0 ||
      decoded.message->sender.incarnation < received.incarnation || received.from.empty() ||
      !is_wire_string(received.from)) {
    count(&MembershipStats::malformed_dropped);
    return;
  }
  Message& m = *decoded.message;
  MemberRecord sender;
  sender.member.id = received.sender_id;
  sender.member.address = received.from;
  sender.member.group = m.sender.group;
  sender.member.meta = m.sender.meta;
  sender.member.incarnation = m.sender.incarnation;
  sender.state = m.sender.state;
  sender.version = m.sender.version;
  refuted_death = false;
  learn(sender, /*from_its_subject=*/true);
  for (const MemberRecord& r : m.records) learn(r, r.member.id == received.sender_id);
  if (refuted_death) {
    // It held this member dead, and may hold nobody else alive to spread the refutation to.
    Message refutation;
    refutation.type = kGossip;
    refutation.records.push_back(own());
    send(received.from, refutation);
  }

  switch (m.type) {
    case kPing: on_ping(received, m); break;
    case kAck: on_ack(received, m); break;
    case kPingReq: on_ping_req(received, m); break;
    case kJoin: {
      Message reply;
      reply.type = kSync;
      reply.sync_flags = kSyncAnswersJoin;
      reply.records = table.records();
      send(received.from, reply);
      break;
    }
    case kSync: {
      if (m.sync_flags & kSyncReplyWanted) {
        Message reply;
        reply.type = kSync;
        reply.records = table.records();
        send(received.from, reply);
      }
      if (m.sync_flags & kSyncAnswersJoin) {
        std::lock_guard lock(mutex);
        if (!joined) {
          joined = true;
          changed.notify_all();
        }
        next_join = Clock::time_point::max();
      }
      break;
    }
    default: break;  // gossip: its records were all it had to say
  }
}

void Membership::Impl::correct(const MemberRecord& sender, const MemberRecord& ours) {
  const Clock::time_point now = Clock::now();
  auto [it, fresh] = last_told.try_emplace(sender.member.id, now);
  if (!fresh && now - it->second < timings.probe_timeout) return;
  it->second = now;
  Message m;
  m.type = kGossip;
  m.records.push_back(ours);
  send(sender.member.address, m);
}

void Membership::Impl::gossip_tick() {
  if (broadcasts.empty()) return;
  for (const MemberRecord* r : random_members(static_cast<std::size_t>(timings.gossip_nodes), 0, false)) {
    Message m;
    m.type = kGossip;
    piggyback(m);
    if (m.records.empty()) break;
    send(r->member.address, m);
  }
}

void Membership::Impl::sync_tick() {
  const auto targets = random_members(1, 0, true);
  if (targets.empty()) return;
  Message m;
  m.type = kSync;
  m.sync_flags = kSyncReplyWanted;
  m.records = table.records();
  send(targets.front()->member.address, m);
}

void Membership::Impl::send_join(const std::string& to, std::optional<milliseconds> wait) {
  Message m;
  m.type = kJoin;
  m.records = table.records();  // a two-way exchange: the other side learns what we know too
  send(to, m, wait);
}

void Membership::Impl::join_tick(Clock::time_point now) {
  // While start() waits: every seed, a few times. Afterwards reconnect_tick tries them.
  if (seeds.empty() || now >= join_phase_end) {
    next_join = Clock::time_point::max();
    return;
  }
  for (const auto& s : seeds) send_join(s);
  next_join = now + std::clamp(timings.join_timeout / 4, milliseconds(50), milliseconds(500));
}

void Membership::Impl::send_leave() {
  const Clock::time_point deadline = Clock::now() + leave_timeout;
  MemberRecord left = own();
  left.state = MemberState::left;
  left.version += 1;
  apply(left);
  leaving = true;
  for (PeerId id : table.live_ids()) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    const MemberRecord* r = table.find(id);
    if (!r || id == self_id) continue;
    Message m;
    m.type = kGossip;
    m.records.push_back(own());
    // A member never written to needs a connection first: allow it a little longer.
    send(r->member.address, m,
         std::min(std::chrono::duration_cast<milliseconds>(deadline - now), std::max(send_wait, milliseconds(50))));
  }
}

}  // namespace chorus
