#include "peers/ring/ring_session.h"

#include <fmt/format.h>

#include "foundations/base/error.h"
#include "peers/exchange/dynamic_weights.h"
#include "peers/exchange/readiness.h"
#include "topology/hash_order.h"

namespace chorus {

View collective_view(const Membership& membership, PeerId self) {
  View v = membership.view_without_suspects();
  std::erase_if(v.members, [self](const Member& m) { return m.id != self && !readiness::is_ready(m); });
  return v;
}

RingView ring_view(const View& view) {
  RingView r;
  r.number = view.number;
  for (std::size_t i : hash_order(view)) r.members.push_back({view.members[i].id, view.members[i].address});
  return r;
}

RingView group_ring_view(const View& view, const GroupRule& rule, PeerId self, std::string* group_name) {
  RingView r;
  r.number = view.number;
  const int me = view.index_of(self);
  if (me < 0) return r;
  const std::vector<Group> groups = make_groups(view, rule);
  const Group& g = groups[group_of(groups, static_cast<std::size_t>(me))];
  for (std::size_t i : g.members) r.members.push_back({view.members[i].id, view.members[i].address});
  if (group_name) *group_name = g.name;
  return r;
}

RingSession::RingSession(PeerServices& services, const Config& config)
    : services_(services),
      ring_(services.transport),
      rule_(parse_group_rule(config.groups)),
      dynamic_weights_(config.dynamic_weights),
      timing_(config.timing),
      timeout_(config.timeout) {}

bool RingSession::wait_until_ready(const View& view, std::chrono::milliseconds timeout) {
  return readiness::wait_until_all_ready(services_.membership, view, services_.transport.id(), timeout,
                                         [this] { ring_.serve(std::chrono::milliseconds(1)); });
}

void RingSession::saw_step(std::int64_t step) {
  std::int64_t unset = -1;
  first_step_.compare_exchange_strong(unset, step);
  last_step_ = step;
}

double RingSession::contribution_weight() const {
  if (!dynamic_weights_) return 1.0;
  const std::int64_t first = first_step_.load(), last = last_step_.load();
  Contribution c;
  c.step = -behind_;  // against a newest step of 0
  c.since_start = first < 0 ? 0 : last - first + 1;
  return currency(c, 0);
}

CollectiveOutcome RingSession::average(std::span<float> data, Scope scope, std::int64_t step, std::int64_t period,
                                       Values values) {
  const std::int64_t aligned_step = aligned(step);
  CHORUS_CHECK(period >= 1 && aligned_step >= 0 && aligned_step % period == 0,
               "a collective runs at a multiple of its period");
  const auto t0 = std::chrono::steady_clock::now();
  Membership& membership = services_.membership;
  const PeerId self = services_.transport.id();
  std::string group = scope == Scope::resync ? "resync" : "global";
  if (scope == Scope::group) group_ring_view(collective_view(membership, self), rule_, self, &group);

  CollectiveRequest req;
  req.scope = collective_scope(scope == Scope::group ? "group:" + group : group);
  req.op = ReduceOp::average;
  req.timeout = timeout_;
  req.alive = [&membership](PeerId id) { return membership.state_of(id) == MemberState::alive; };
  if (scope != Scope::group) req.view = [&membership, self] { return ring_view(collective_view(membership, self)); };
  else req.view = [&membership, this, self] { return group_ring_view(collective_view(membership, self), rule_, self); };

  req.round = static_cast<std::uint64_t>(aligned_step / period);
  req.weight = contribution_weight();
  const std::int64_t offset_before = step_offset_.load();
  CollectiveOutcome out;
  std::uint64_t sent = 0, received = 0;
  for (int skips = 0;; ++skips) {
    out = ring_.allreduce(data, req);
    sent += out.bytes_sent;
    received += out.bytes_received;
    if (out.status != CollectiveStatus::skipped || skips >= 8) break;
    // The others are at a later round: take part in theirs, with these values, and count
    // steps as they do from now on.
    const std::int64_t skipped = (static_cast<std::int64_t>(out.round) - static_cast<std::int64_t>(req.round)) * period;
    step_offset_ += skipped;
    behind_ += skipped;  // these values are that many steps older than the others'
    req.round = out.round;
    req.weight = contribution_weight();
  }
  if (out.status == CollectiveStatus::done && values == Values::parameters) behind_ = 0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  services_.stats.bytes_sent += sent;
  services_.stats.bytes_recv += received;
  if (timing_ == Timing::counted_here) {
    services_.stats.comm_s = services_.stats.comm_s.load() + seconds;
    services_.stats.idle_s = services_.stats.idle_s.load() + seconds;
  }
  // Only rounds that needed something, or waited long, are events: a lasting step offset is
  // not news.
  constexpr double kLongWaitS = 1.0;
  if (out.status != CollectiveStatus::done || out.attempts > 1 || out.from_peer || step_offset_ != offset_before ||
      seconds > kLongWaitS)
    services_.log.event("collective", {{"scope", group},
                                       {"round", req.round},
                                       {"status", collective_status_name(out.status)},
                                       {"attempts", out.attempts},
                                       {"contributors", out.contributors},
                                       {"from_peer", out.from_peer},
                                       {"step_offset", step_offset_.load()},
                                       {"seconds", seconds},
                                       {"detail", out.detail}});
  return out;
}

}  // namespace chorus
