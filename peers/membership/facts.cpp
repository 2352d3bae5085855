// Learning facts: the member table, suspicion timers, refutation and the events they cause.
#include <algorithm>

#include "peers/membership/membership_impl.h"
#include "peers/membership/timings.h"

namespace chorus {

using namespace membership;

std::optional<TableChange> Membership::Impl::apply(const MemberRecord& fact) {
  std::optional<TableChange> change;
  {
    std::lock_guard lock(mutex);
    change = table.apply(fact);
    if (change) changed.notify_all();
  }
  if (change) after_change(*change);
  return change;
}

void Membership::Impl::learn(const MemberRecord& fact, bool from_its_subject) {
  if (fact.member.id == self_id) {
    learn_about_self(fact);
    return;
  }
  const MemberRecord* cur = table.find(fact.member.id);
  if (cur && cur->state == MemberState::suspect && fact.state == MemberState::suspect &&
      cur->member.incarnation == fact.member.incarnation) {
    // Another accusation of the same suspicion: a confirmation, passed on when it is new.
    auto it = suspicions.find(fact.member.id);
    if (it != suspicions.end() && it->second.incarnation() == fact.member.incarnation &&
        it->second.confirm(fact.accuser)) {
      MemberRecord update = *cur;
      update.accuser = fact.accuser;
      update.version = std::max(cur->version, fact.version);
      broadcasts.push(update);
    }
    if (fact.version > cur->version) apply(fact);
    return;
  }
  if (apply(fact)) return;
  // Nothing new. When a member tells us about itself what we know to be out of date (it was
  // suspected or declared dead meanwhile), tell it, so that it can refute at once.
  cur = table.find(fact.member.id);
  if (from_its_subject && cur && compare_states(*cur, fact) > 0) correct(fact, *cur);
}

void Membership::Impl::learn_about_self(const MemberRecord& fact) {
  if (leaving) return;
  const MemberRecord& me = own();
  if (fact.state == MemberState::alive) {
    if (fact.member.incarnation == me.member.incarnation && fact.version > me.version) {
      MemberRecord r = me;  // others counted our record further: adopt the count only
      r.version = fact.version;
      apply(r);
    } else if (fact.member.incarnation > me.member.incarnation) {
      refute(fact);  // an incarnation of ours we never had (a clock gone backwards)
    }
    return;
  }
  if (fact.member.incarnation >= me.member.incarnation) refute(fact);
}

void Membership::Impl::refute(const MemberRecord& fact) {
  const MemberRecord& me = own();
  MemberRecord r = me;
  r.state = MemberState::alive;
  r.accuser = 0;
  r.member.incarnation = std::max(me.member.incarnation, fact.member.incarnation) + 1;
  r.version = std::max(me.version, fact.version) + 1;
  if (r.member.incarnation >= kMaxCounter || r.version >= kMaxCounter) return;  // cannot happen in practice
  incarnation = r.member.incarnation;
  if (fact.state == MemberState::dead) refuted_death = true;
  count(&MembershipStats::refutations);
  apply(r);
}

void Membership::Impl::publish_meta() {
  std::optional<std::string> meta;
  {
    std::lock_guard lock(mutex);
    meta.swap(pending_meta);
  }
  if (!meta || leaving || *meta == own().member.meta) return;
  MemberRecord r = own();
  r.member.meta = std::move(*meta);
  r.version = own().version + 1;
  if (r.version >= kMaxCounter) return;  // cannot happen in practice
  apply(r);
  gossip_tick();  // to a few members now rather than at the next tick
}

void Membership::Impl::after_change(const TableChange& change) {
  const MemberRecord& a = change.after;
  const PeerId id = a.member.id;
  broadcasts.push(a);

  if (id != self_id) {
    if (a.state == MemberState::suspect) {
      auto it = suspicions.find(id);
      if (it == suspicions.end() || it->second.incarnation() != a.member.incarnation) {
        std::size_t live;
        {
          std::lock_guard lock(mutex);
          live = table.live_count();
        }
        const SuspicionBounds b = suspicion_bounds(timings, live);
        suspicions.insert_or_assign(
            id, Suspicion(a.member.incarnation, a.accuser, b.expected_confirmations, b.min, b.max, Clock::now()));
      } else {
        it->second.confirm(a.accuser);
      }
    } else {
      suspicions.erase(id);
    }
    follow_for_reconnect(change);
    if (change.before && change.before->member.address != a.member.address) {
      // A newer incarnation elsewhere: nothing more goes to where it was.
      try {
        transport.forget(change.before->member.address);
      } catch (const std::exception&) {
      }
    }
    if (!is_live(a.state)) {
      last_told.erase(id);
      if (change.before && is_live(change.before->state)) {
        try {
          transport.forget(a.member.address);  // drop what is queued for it; reconnect when it returns
        } catch (const std::exception&) {
        }
      }
    }
  }

  const bool was_live = change.before && is_live(change.before->state);
  std::optional<MembershipEvent::Kind> kind;
  if (!was_live && is_live(a.state)) {
    kind = MembershipEvent::Kind::join;
  } else if (was_live && a.state == MemberState::dead) {
    kind = MembershipEvent::Kind::dead;
  } else if (was_live && a.state == MemberState::left) {
    kind = MembershipEvent::Kind::leave;
  } else if (was_live && a.state == MemberState::suspect && change.before->state == MemberState::alive) {
    kind = MembershipEvent::Kind::suspect;
  } else if (was_live && a.state == MemberState::alive &&
             (change.before->state == MemberState::suspect ||
              change.before->member.incarnation != a.member.incarnation)) {
    kind = MembershipEvent::Kind::alive;
  } else if (was_live && a.state == MemberState::suspect &&
             change.before->member.incarnation != a.member.incarnation) {
    kind = MembershipEvent::Kind::suspect;
  }
  if (kind) events.push_back({*kind, a.member, table.view_number()});
}

void Membership::Impl::expire_suspicions(Clock::time_point now) {
  std::vector<PeerId> due;
  for (const auto& [id, s] : suspicions)
    if (now >= s.deadline()) due.push_back(id);
  for (PeerId id : due) {
    const auto it = suspicions.find(id);
    const MemberRecord* cur = table.find(id);
    if (!cur || cur->state != MemberState::suspect || cur->member.incarnation != it->second.incarnation()) {
      suspicions.erase(it);
      continue;
    }
    MemberRecord dead = *cur;
    dead.state = MemberState::dead;
    dead.accuser = 0;
    dead.version = cur->version + 1;
    apply(dead);  // erases the suspicion
    suspicions.erase(id);
  }
}

}  // namespace chorus
