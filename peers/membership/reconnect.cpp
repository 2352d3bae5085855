// Trying again: members declared dead are sent this member's table at doubling intervals for
// reconnect_timeout, and the seeds are tried for as long as the member runs. Whoever answers
// learns what this member knows (including that it declared them dead, which they refute) and
// answers with its own table, so two halves of a partition merge as soon as one message passes.
#include <algorithm>

#include "peers/membership/membership_impl.h"

namespace chorus {

using namespace membership;
using std::chrono::milliseconds;

namespace {
// A try must not hold the protocol thread: a dead address has no connection, and the
// transport keeps connecting in the background, so a later try finds one when it is back.
constexpr milliseconds kTryWait(10);
// Dead members tried in one pass of the loop, at most (the others wait for the next).
constexpr std::size_t kTriesPerPass = 4;
}  // namespace

void Membership::Impl::follow_for_reconnect(const TableChange& change) {
  const MemberRecord& a = change.after;
  const PeerId id = a.member.id;
  if (id == self_id) return;
  if (a.state != MemberState::dead) {
    reconnects.erase(id);
    return;
  }
  if (reconnects.count(id)) return;
  const Clock::time_point now = Clock::now();
  reconnects[id] = {now + timings.reconnect_interval, now + timings.reconnect_timeout, timings.reconnect_interval};
}

void Membership::Impl::reconnect_tick(Clock::time_point now) {
  if (leaving) return;
  std::size_t tried = 0;
  for (auto it = reconnects.begin(); it != reconnects.end() && tried < kTriesPerPass;) {
    Reconnect& r = it->second;
    const MemberRecord* rec = table.find(it->first);
    if (now >= r.until || !rec || rec->state != MemberState::dead) {
      if (rec && now >= r.until) {
        try {
          transport.forget(rec->member.address);  // stop connecting in the background
        } catch (const std::exception&) {
        }
      }
      it = reconnects.erase(it);
      continue;
    }
    if (now >= r.next) {
      send_join(rec->member.address, kTryWait);
      ++tried;
      r.interval = std::min<Clock::duration>(r.interval * 2, timings.reconnect_interval_max);
      r.next = now + r.interval;
    }
    ++it;
  }

  // The seeds, once the join phase is over: all of them while alone (backing off), one at a
  // time otherwise (a swarm that a seed belongs to and this one does not know is found).
  if (seeds.empty() || now < join_phase_end || now < next_seed_try) return;
  std::size_t live;
  {
    std::lock_guard lock(mutex);
    live = table.live_count();
  }
  if (live <= 1) {
    for (const auto& s : seeds) send_join(s, kTryWait);
    seed_interval = seed_interval == Clock::duration::zero()
                        ? Clock::duration(timings.reconnect_interval)
                        : std::min<Clock::duration>(seed_interval * 2, timings.reconnect_interval_max);
    next_seed_try = now + seed_interval;
  } else {
    send_join(seeds[next_seed++ % seeds.size()], kTryWait);
    seed_interval = Clock::duration::zero();
    next_seed_try = now + timings.reconnect_interval_max;
  }
}

}  // namespace chorus
