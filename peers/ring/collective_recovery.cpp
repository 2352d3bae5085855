// RingAllreduce::allreduce: ring attempts plus recovery. After a failed attempt every member
// restores its values, asks the current members how the round ended for them (kQuery) and
// acts on the answers:
//   any "done"                   -> take that member's result (it finished the round)
//   all answered, some "beyond"  -> skip to the highest round given (the others moved on)
//   all answered "aborted"       -> attempt again on the current view (a view not tried yet)
// A member answers "aborted" only when no attempt that could finish without the asker is in
// progress at its end, so a round never ends with one member holding a result and another
// retrying it among fewer members.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "foundations/base/error.h"
#include "peers/ring/collective_engine.h"
#include "peers/ring/reduce_kernels.h"

namespace chorus {

namespace {

using Clock = std::chrono::steady_clock;
using Engine = RingAllreduce::Engine;

enum class Resolution { done, skipped, retry, failed };

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

Clock::time_point soon(const Engine& e, Clock::time_point deadline) {
  return std::min(deadline, Clock::now() + e.options.poll_interval);
}

// Receives the result of the current round from `from` (its done answer came first) into data.
bool receive_result(Engine& e, std::span<float> data, const CollectiveRequest& req, PeerId from,
                    Clock::time_point deadline) {
  const std::size_t length = data.size();
  std::uint64_t got = 0;
  bool bad = false;
  const auto take = [&](const ReceivedMessage& m) {
    if (m.sender_id != from || !m.params || got >= length) return;
    const wire::ParamHeader& ph = *m.params;
    if (ph.total_elements != length || ph.offset != got || ph.count > length - got) {
      bad = true;  // not the stream this member expects; ask again
      return;
    }
    const auto src = m.floats();
    std::copy(src.begin(), src.end(), data.begin() + static_cast<std::ptrdiff_t>(ph.offset));
    got += ph.count;
  };
  while (!e.early_results.empty() && got < length && !bad) {
    take(e.early_results.front());
    e.early_results.pop_front();
  }
  auto next_check = Clock::now() + e.options.poll_interval;
  while (got < length && !bad) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    if (now >= next_check) {
      if (!req.alive(from)) return false;
      next_check = now + e.options.poll_interval;
    }
    auto m = e.next(soon(e, deadline));
    if (m && m->type == ring::kResult) take(*m);
  }
  return !bad;
}

struct Resolved {
  Resolution kind = Resolution::failed;
  std::uint64_t round = 0;        // skipped: where to continue
  std::uint32_t contributors = 0;  // done
  std::uint64_t member_set = 0;    // done
};

Resolved resolve(Engine& e, std::span<float> data, const CollectiveRequest& req, Clock::time_point deadline) {
  e.act.kind = Engine::Kind::resolving;
  e.answer_deferred();
  const PeerId self = e.transport.id();
  std::unordered_map<PeerId, ring::Answer> answers;
  std::unordered_set<PeerId> asked;
  std::vector<PeerId> targets_seen;
  auto resend_at = Clock::now() + std::chrono::seconds(1);
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) return {};
    const RingView view = req.view();
    std::vector<const RingMember*> targets;
    std::vector<PeerId> ids;
    for (const auto& m : view.members)
      if (m.id != self) {
        targets.push_back(&m);
        ids.push_back(m.id);
      }
    if (ids != targets_seen) {  // the members changed: every answer may have changed too
      answers.clear();
      asked.clear();
      targets_seen = ids;
    }
    if (targets.empty()) return {Resolution::retry};

    ring::Query q{req.scope, req.round, e.act.attempted};
    const auto bytes = ring::encode(q);
    const bool resend = now >= resend_at;
    for (const RingMember* t : targets)
      if (!asked.count(t->id) || (resend && !answers.count(t->id))) {
        e.send_control(t->address, ring::kQuery, bytes, e.options.poll_interval);
        asked.insert(t->id);
      }
    if (resend) resend_at = now + std::chrono::seconds(1);

    for (const auto& [answerer, a] : answers) {
      if (a.kind != ring::AnswerKind::done) continue;
      const PeerId id = answerer;
      if (a.elements == data.size() && receive_result(e, data, req, id, deadline))
        return {Resolution::done, req.round, a.contributors, a.member_set};
      answers.erase(id);  // it died or sent something else: ask it again
      asked.erase(id);
      break;
    }
    std::size_t answered = 0;
    std::uint64_t beyond = 0;
    bool any_beyond = false;
    for (PeerId id : ids) {
      auto it = answers.find(id);
      if (it == answers.end()) continue;
      ++answered;
      if (it->second.kind == ring::AnswerKind::beyond) {
        any_beyond = true;
        beyond = std::max(beyond, it->second.answerer_round);
      }
    }
    if (answered == ids.size()) {
      if (any_beyond && beyond > req.round) return {Resolution::skipped, beyond};
      return {Resolution::retry};
    }

    auto m = e.next(soon(e, deadline));
    if (!m) continue;
    if (m->type == ring::kResult) {
      e.early_results.push_back(std::move(*m));
    } else if (m->type == ring::kAnswer) {
      auto a = ring::decode_answer(m->bytes());
      if (a && a->kind != ring::AnswerKind::newer_view && contains(ids, m->sender_id)) answers[m->sender_id] = *a;
    }
  }
}

// Waits until the view differs from the one `tried` names (a view key); false at `until`.
bool wait_for_new_view(Engine& e, const CollectiveRequest& req, std::uint64_t tried, Clock::time_point until) {
  while (Clock::now() < until) {
    if (ring::attempt_key(req.scope, req.round, req.view()) != tried) return true;
    auto m = e.next(soon(e, until));
    if (m && m->type == ring::kResult) e.early_results.push_back(std::move(*m));
  }
  return false;
}

}  // namespace

std::chrono::milliseconds Engine::silence_bound(std::chrono::milliseconds timeout) const {
  // Unmeasured: no bound (suspicion alone aborts). Measured: many times the usual attempt, so
  // members arriving at the round at different times are not mistaken for silent ones.
  constexpr int kTypicalAttempts = 10;
  constexpr std::chrono::milliseconds kFloor(2000);
  if (typical_attempt == Clock::duration::zero()) return std::chrono::milliseconds(0);
  const auto bound = std::chrono::ceil<std::chrono::milliseconds>(typical_attempt * kTypicalAttempts);
  return std::clamp(bound, kFloor, std::max(kFloor, timeout));
}

CollectiveOutcome Engine::allreduce(std::span<float> data, const CollectiveRequest& req) {
  if (!req.view || !req.alive) throw UserError("all-reduce: a collective request needs a view and a liveness test");
  if (!(req.weight > 0) || !std::isfinite(req.weight))
    throw UserError(fmt::format("all-reduce: weight {} must be positive and finite", req.weight));
  if (!ring::all_finite(data.data(), data.size()))
    throw UserError("all-reduce: the input holds NaN or infinity (the transport refuses to carry them)");
  const auto deadline = Clock::now() + req.timeout;
  const PeerId self = transport.id();

  act.kind = Kind::resolving;  // between attempts: no attempt running, no result yet
  set_round(req.scope, req.round);
  early_results.clear();
  answer_deferred();
  if (req.round > 0) refile_hellos(req.scope, 0, req.round - 1);  // their senders lag: answer them
  backup.assign(data.begin(), data.end());

  CollectiveOutcome out;
  out.round = req.round;
  const auto restore = [&] { std::copy(backup.begin(), backup.end(), data.begin()); };
  const auto end = [&](CollectiveStatus status, std::string detail) {
    if (status != CollectiveStatus::done) restore();
    act.kind = Kind::idle;
    answer_deferred();
    out.status = status;
    if (!detail.empty()) out.detail = std::move(detail);
    return out;
  };
  const auto done = [&](std::size_t contributors, std::uint64_t member_set, bool from_peer) {
    Result& r = results[req.scope];
    r.round = req.round;
    r.contributors = static_cast<std::uint32_t>(contributors);
    r.member_set = member_set;
    out.member_set = member_set;
    r.values.assign(data.begin(), data.end());
    out.contributors = contributors;
    out.from_peer = from_peer;
    end(CollectiveStatus::done, {});
    // Hellos of this round kept meanwhile (a member that began it on another view, e.g. one
    // that has just joined): their senders wait for a neighbour that has finished -- hand
    // them the result now rather than at this member's next round.
    refile_hellos(req.scope, req.round, req.round);
    return out;
  };

  // Generations: a round is retried on a view it failed on (under a new attempt key) when no
  // newer view comes within same_view_pause -- a failure that was no member's death (members
  // that began the round on different views of a join) must not cost the whole timeout. The
  // next generation to try on each view, here and (act.generations) in the others' hellos.
  std::unordered_map<std::uint64_t, std::uint32_t> next_generation;
  const auto same_view_pause = std::max(5 * options.poll_interval, std::chrono::milliseconds(100));
  bool resolve_first = evidence_ahead(req.scope, req.round);
  for (;;) {
    if (Clock::now() >= deadline) return end(CollectiveStatus::failed, "no result within the timeout");
    if (resolve_first) {
      const Resolved r = resolve(*this, data, req, deadline);
      if (r.kind == Resolution::done) return done(r.contributors, r.member_set, true);
      if (r.kind == Resolution::failed) return end(CollectiveStatus::failed, "no answer from the members within the timeout");
      if (r.kind == Resolution::skipped) {
        set_round(req.scope, r.round);
        out.round = r.round;
        return end(CollectiveStatus::skipped, fmt::format("the members are at round {}", r.round));
      }
      resolve_first = false;
    }
    const RingView view = req.view();
    if (std::none_of(view.members.begin(), view.members.end(), [&](const RingMember& m) { return m.id == self; }))
      return end(CollectiveStatus::failed, "this peer is not in the collective's view");
    for (const auto& m : view.members)
      if (addresses.size() < kMaxAddresses) addresses.insert_or_assign(m.id, m.address);
    const std::uint64_t view_key = ring::attempt_key(req.scope, req.round, view);
    auto tried = next_generation.find(view_key);
    if (tried != next_generation.end()) {
      // This view failed here before. A member that died is out of the view within
      // membership's detection time, so a newer view usually follows at once.
      if (wait_for_new_view(*this, req, view_key, std::min(deadline, Clock::now() + same_view_pause))) continue;
      if (Clock::now() >= deadline) continue;
    }
    const std::uint32_t generation =
        std::max(tried != next_generation.end() ? tried->second : 0u, act.generations[view_key]);
    next_generation[view_key] = generation + 1;
    RingAttempt a;
    a.scope = req.scope;
    a.round = req.round;
    a.view = view;
    a.generation = generation;
    a.op = req.op;
    a.weight = req.weight;
    a.still_valid = [&] {
      return std::all_of(view.members.begin(), view.members.end(), [&](const RingMember& m) { return req.alive(m.id); });
    };
    a.silence = silence_bound(req.timeout);
    ++out.attempts;
    const auto attempt_start = Clock::now();
    const RingOutcome o = attempt(data, a, deadline);
    if (o.ok()) {
      const Clock::duration took = Clock::now() - attempt_start;
      typical_attempt = typical_attempt == Clock::duration::zero() ? took : (typical_attempt * 4 + took) / 5;
    }
    out.bytes_sent += o.bytes_sent;
    out.bytes_received += o.bytes_received;
    if (o.ok()) return done(view.members.size(), ring::member_set_hash(view), false);
    act.kind = Kind::resolving;
    out.detail = fmt::format("attempt {} on view {}: {} ({})", out.attempts, view.number, ring_status_name(o.status),
                             o.detail);
    if (o.status == RingStatus::done_elsewhere &&
        receive_result(*this, data, req, elsewhere.sender, deadline))
      return done(elsewhere.answer.contributors, elsewhere.answer.member_set, true);
    restore();
    answer_deferred();  // "aborted" to whoever waited for this attempt's end
    resolve_first = true;
  }
}

}  // namespace chorus
