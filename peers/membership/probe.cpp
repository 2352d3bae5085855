// The probe cycle: each probe_interval one member is pinged; without an ack within
// probe_timeout, up to indirect_probes others are asked to ping it (ping-req); without any
// ack by the end of the interval it is suspected. Also answers pings and relays ping-reqs.
#include "peers/membership/membership_impl.h"

namespace chorus {

using namespace membership;

namespace {
constexpr std::size_t kMaxRelays = 1024;  // ping-reqs being served at once
}

void Membership::Impl::probe_tick(Clock::time_point now) {
  if (probe) conclude_probe();
  const std::optional<PeerId> target = probe_order.next(table, self_id, rng);
  if (!target) return;
  const MemberRecord* r = table.find(*target);
  Probe p;
  p.target = *target;
  p.incarnation = r->member.incarnation;
  p.address = r->member.address;
  p.sequence = next_sequence++;
  p.started = now;
  probe = p;
  count(&MembershipStats::probes);
  Message ping;
  ping.type = kPing;
  ping.sequence = p.sequence;
  ping.target = p.target;
  piggyback(ping);
  send(p.address, ping);
}

void Membership::Impl::probe_timeout_check(Clock::time_point now) {
  if (!probe || probe->acked || probe->indirect_sent || now < probe->started + timings.probe_timeout) return;
  probe->indirect_sent = true;
  const auto helpers = random_members(static_cast<std::size_t>(timings.indirect_probes), probe->target, true);
  for (const MemberRecord* h : helpers) {
    Message req;
    req.type = kPingReq;
    req.sequence = probe->sequence;
    req.target = probe->target;
    req.target_address = probe->address;
    piggyback(req);
    send(h->member.address, req);
  }
  if (!helpers.empty()) count(&MembershipStats::indirect_requests, helpers.size());
}

void Membership::Impl::conclude_probe() {
  const Probe p = *probe;
  probe.reset();
  if (p.acked) return;
  const MemberRecord* cur = table.find(p.target);
  if (!cur || !is_live(cur->state) || cur->member.incarnation != p.incarnation) return;  // moved on meanwhile
  count(&MembershipStats::suspicions_raised);
  MemberRecord suspect = *cur;
  suspect.state = MemberState::suspect;
  suspect.accuser = self_id;
  // A new suspicion advances the version; our accusation of an existing one confirms it.
  suspect.version = cur->state == MemberState::suspect ? cur->version : cur->version + 1;
  learn(suspect, false);
}

void Membership::Impl::on_ping(const ReceivedMessage& received, const Message& ping) {
  if (ping.target != self_id) return;  // meant for whoever had this address before
  Message ack;
  ack.type = kAck;
  ack.sequence = ping.sequence;
  ack.target = self_id;
  piggyback(ack);
  send(received.from, ack);
}

void Membership::Impl::on_ack(const ReceivedMessage& received, const Message& ack) {
  if (probe && ack.sequence == probe->sequence && ack.target == probe->target) {
    probe->acked = true;
    return;
  }
  auto it = relays.find(ack.sequence);
  if (it == relays.end() || it->second.target != ack.target || received.sender_id != ack.target) return;
  Message forward;
  forward.type = kAck;
  forward.sequence = it->second.requester_sequence;
  forward.target = ack.target;
  const std::string requester = it->second.requester;
  relays.erase(it);
  piggyback(forward);
  send(requester, forward);
}

void Membership::Impl::on_ping_req(const ReceivedMessage& received, const Message& request) {
  if (request.target == self_id) {  // asked to probe ourselves: answer for us
    Message ack;
    ack.type = kAck;
    ack.sequence = request.sequence;
    ack.target = self_id;
    send(received.from, ack);
    return;
  }
  if (relays.size() >= kMaxRelays) return;
  const MemberRecord* known = table.find(request.target);
  Relay relay;
  relay.requester = received.from;
  relay.requester_sequence = request.sequence;
  relay.target = request.target;
  relay.expires = Clock::now() + timings.probe_interval;
  const std::uint64_t sequence = next_sequence++;
  relays.emplace(sequence, relay);
  Message ping;
  ping.type = kPing;
  ping.sequence = sequence;
  ping.target = request.target;
  piggyback(ping);
  send(known ? known->member.address : request.target_address, ping);
}

void Membership::Impl::expire_relays(Clock::time_point now) {
  std::erase_if(relays, [&](const auto& kv) { return now >= kv.second.expires; });
}

}  // namespace chorus
