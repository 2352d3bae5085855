// Membership's public methods, its protocol thread and the thread's timer loop.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "foundations/base/error.h"
#include "foundations/wire/message_types.h"
#include "peers/membership/membership_impl.h"
#include "peers/membership/timings.h"

namespace chorus {

using namespace membership;
using std::chrono::milliseconds;

namespace {

// The longest the thread waits for a message before looking at its timers and stop flags.
constexpr milliseconds kMaxWait(50);
// The nice value the protocol thread asks for.
constexpr int kProtocolNice = -5;

MembershipTimings checked_timings(const MembershipTimings& timings) {
  validate(timings);
  return timings;
}

Member checked_self(const Transport& transport, Member self) {
  if (self.id == 0) self.id = transport.id();
  if (self.address.empty()) self.address = transport.address();
  if (self.id != transport.id())
    throw UserError(fmt::format("membership: member id {:016x} differs from the transport's {:016x}", self.id,
                                transport.id()));
  if (self.address != transport.address())
    throw UserError(fmt::format("membership: member address {} differs from the transport's {}", self.address,
                                transport.address()));
  if (!is_wire_string(self.group))
    throw UserError(fmt::format("membership: group '{}' must be at most 255 printable characters without spaces",
                                self.group));
  self.incarnation = std::max(self.incarnation, transport.incarnation());
  if (self.incarnation >= kMaxCounter / 2)
    throw UserError(fmt::format("membership: incarnation {} is too large", self.incarnation));
  return self;
}

std::vector<std::string> checked_seeds(std::vector<std::string> seeds, const std::string& self) {
  std::vector<std::string> out;
  for (auto& s : seeds) {
    if (s.empty() || s == self || std::find(out.begin(), out.end(), s) != out.end()) continue;
    if (s.size() > 255) throw UserError(fmt::format("membership: seed address '{}' is too long", s));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Membership::Impl::Impl(Transport& t, Member self, std::vector<std::string> seed_list, MembershipTimings tm)
    : transport(t),
      timings(checked_timings(tm)),
      self_member(checked_self(t, std::move(self))),
      self_id(self_member.id),
      seeds(checked_seeds(std::move(seed_list), self_member.address)),
      send_wait(send_timeout(timings)),
      rng(std::random_device{}() ^ self_member.id ^ (self_member.incarnation << 1)) {
  MemberRecord me;
  me.member = self_member;
  me.state = MemberState::alive;
  me.version = 1;
  table.apply(me);
  incarnation = self_member.incarnation;
}

void Membership::Impl::count(std::uint64_t MembershipStats::*field, std::uint64_t n) {
  std::lock_guard lock(mutex);
  counters.*field += n;
}

void Membership::Impl::dispatch_events() {
  if (events.empty()) return;
  std::vector<MembershipEvent> out;
  out.swap(events);
  std::vector<std::function<void(const MembershipEvent&)>> call;
  {
    std::lock_guard lock(mutex);
    call = callbacks;
  }
  for (const auto& e : out)
    for (const auto& f : call) {
      try {
        f(e);
      } catch (...) {
        // A callback's failure is its own; the protocol goes on.
      }
    }
}

void Membership::Impl::run() {
  // Answering probes on time is what keeps a busy member alive in the others' eyes: where the
  // process may (root, or RLIMIT_NICE), this thread runs ahead of its training threads. Where
  // it may not, it keeps the priority it inherited.
  const int current = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  if (current > kProtocolNice) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kProtocolNice);
  const Clock::time_point now = Clock::now();
  std::uniform_int_distribution<std::int64_t> stagger(0, timings.probe_interval.count());
  next_probe = now + milliseconds(stagger(rng));
  next_gossip = now + timings.gossip_interval;
  next_sync = now + timings.sync_interval / 2 + milliseconds(std::uniform_int_distribution<std::int64_t>(
                                                    0, timings.sync_interval.count() / 2)(rng));
  next_join = seeds.empty() ? Clock::time_point::max() : now;
  join_phase_end = now + timings.join_timeout;
  last_loop = grace_until = now;
  events.push_back({MembershipEvent::Kind::join, self_member, table.view_number()});

  // A stall this long (the process was stopped, or starved) is not held against others: the
  // probe in flight is dropped and failures wait until what arrived meanwhile is read.
  const milliseconds stall = std::max(milliseconds(250), timings.probe_interval / 2);
  while (!stop_requested) {
    if (leave_requested) {
      send_leave();
      dispatch_events();
      break;
    }
    Clock::time_point t = Clock::now();
    // Sends to dead members block up to send_wait each: that is the loop's own time, not a
    // stall, or a member whose peers all died would never conclude a probe.
    if (t - last_loop - accounted > stall) {
      probe.reset();
      grace_until = t + timings.probe_timeout;
    }
    last_loop = t;
    accounted = Clock::duration::zero();
    publish_meta();
    run_timers(t);
    dispatch_events();

    t = Clock::now();
    const milliseconds wait = std::clamp(
        std::chrono::ceil<milliseconds>(next_deadline(t) - t), milliseconds(0), kMaxWait);
    std::optional<ReceivedMessage> received;
    accounted += wait;
    try {
      received = transport.receive(wait, msg::kMembership);
    } catch (const std::exception&) {
      std::this_thread::sleep_for(milliseconds(10));  // never spin on a failing transport
    }
    if (received) {
      try {
        handle(*received);
      } catch (const std::exception&) {
        count(&MembershipStats::malformed_dropped);  // whatever it was, it does not stop the protocol
      }
    }
    dispatch_events();
  }
  std::lock_guard lock(mutex);
  changed.notify_all();
}

void Membership::Impl::run_timers(Clock::time_point now) {
  if (now >= grace_until) {
    probe_timeout_check(now);
    if (now >= next_probe) {
      probe_tick(now);
      next_probe += timings.probe_interval;
      if (next_probe <= now) next_probe = now + timings.probe_interval;
    }
    expire_suspicions(now);
  }
  if (now >= next_gossip) {
    gossip_tick();
    next_gossip = now + timings.gossip_interval;
  }
  if (now >= next_sync) {
    sync_tick();
    next_sync = now + timings.sync_interval;
  }
  if (now >= next_join) join_tick(now);
  reconnect_tick(now);
  expire_relays(now);
}

Membership::Impl::Clock::time_point Membership::Impl::next_deadline(Clock::time_point now) const {
  Clock::time_point next = std::min({next_gossip, next_sync, next_join, now + kMaxWait});
  // Timers that may declare a failure wait out a grace period after a stall.
  Clock::time_point failures = next_probe;
  if (probe && !probe->acked && !probe->indirect_sent)
    failures = std::min(failures, probe->started + timings.probe_timeout);
  for (const auto& [id, s] : suspicions) failures = std::min(failures, s.deadline());
  return std::min(next, std::max(failures, grace_until));
}

// --- the public methods

Membership::Membership(Transport& transport, Member self, std::vector<std::string> seeds, MembershipTimings timings)
    : impl_(std::make_unique<Impl>(transport, std::move(self), std::move(seeds), timings)) {}

Membership::~Membership() { stop(); }

bool Membership::start() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.lifecycle);
    if (m.started) {
      std::lock_guard l(m.mutex);
      return m.joined;
    }
    m.started = true;
    m.thread = std::thread([&m] { m.run(); });
  }
  if (m.seeds.empty()) return false;
  std::unique_lock lock(m.mutex);
  m.changed.wait_for(lock, m.timings.join_timeout, [&] { return m.joined || m.stop_requested || m.leave_requested; });
  return m.joined;
}

void Membership::leave(std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  std::lock_guard lock(m.lifecycle);
  if (!m.thread.joinable()) return;
  m.leave_timeout = std::max(milliseconds(0), timeout);
  m.leave_requested = true;
  m.thread.join();
}

void Membership::stop() {
  Impl& m = *impl_;
  std::lock_guard lock(m.lifecycle);
  m.stop_requested = true;
  if (m.thread.joinable()) m.thread.join();
}

View Membership::view() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->table.view();
}

View Membership::view_without_suspects() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->table.view(/*with_suspects=*/false);
}

const Member& Membership::self() const { return impl_->self_member; }

std::uint64_t Membership::incarnation() const { return impl_->incarnation; }

View Membership::wait_for_change(std::uint64_t known, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return impl_->table.view_number() != known; });
  return impl_->table.view();
}

bool Membership::is_member(PeerId id) const {
  std::lock_guard lock(impl_->mutex);
  const MemberRecord* r = impl_->table.find(id);
  return r && is_live(r->state);
}

MemberState Membership::state_of(PeerId id) const {
  std::lock_guard lock(impl_->mutex);
  const MemberRecord* r = impl_->table.find(id);
  return r ? r->state : MemberState::dead;
}

void Membership::set_meta(std::string meta) {
  if (!is_wire_string(meta))
    throw UserError(fmt::format("membership: metadata '{}' must be at most 255 printable characters without spaces",
                                meta));
  std::lock_guard lock(impl_->mutex);
  impl_->pending_meta = std::move(meta);
}

std::string Membership::meta_of(PeerId id) const {
  std::lock_guard lock(impl_->mutex);
  const MemberRecord* r = impl_->table.find(id);
  return r ? r->member.meta : std::string();
}

void Membership::on_change(std::function<void(const MembershipEvent&)> callback) {
  if (!callback) return;
  std::lock_guard lock(impl_->mutex);
  impl_->callbacks.push_back(std::move(callback));
}

MembershipStats Membership::stats() const {
  std::lock_guard lock(impl_->mutex);
  MembershipStats s = impl_->counters;
  s.members_refused = impl_->table.refused();
  return s;
}

}  // namespace chorus
