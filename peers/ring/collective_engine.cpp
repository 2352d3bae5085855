#include "peers/ring/collective_engine.h"

#include <algorithm>

#include "foundations/base/error.h"
#include "foundations/wire/message_types.h"

namespace chorus {

namespace {

constexpr std::size_t kDeadKeys = 1024;     // attempt keys remembered as abandoned
constexpr std::size_t kMaxDeferred = 1024;  // questions waiting for an answer

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

RingAllreduce::Engine::Engine(Transport& t, RingOptions o) : transport(t), options(std::move(o)) {
  if (options.poll_interval <= std::chrono::milliseconds(0)) options.poll_interval = std::chrono::milliseconds(1);
}

void RingAllreduce::Engine::set_round(std::uint64_t scope, std::uint64_t round) {
  scopes[scope].round = round;
  const bool changed = act.scope != scope || act.round != round;
  act.scope = scope;
  act.round = round;
  if (!changed) return;
  act.attempted.clear();
  act.generations.clear();
  for (const auto& k : stash)  // hellos of this round that came early
    if (k.message.type == ring::kHello)
      if (auto h = ring::decode_hello(k.message.bytes())) note_generation(*h);
}

void RingAllreduce::Engine::note_generation(const ring::Hello& h) {
  if (h.scope != act.scope || h.round != act.round) return;
  std::uint32_t& g = act.generations[ring::view_key(h)];
  g = std::max(g, h.generation);
}

void RingAllreduce::Engine::decline(const ring::Hello& h) {
  const PeerId self = transport.id();
  const auto me = std::find(h.members.begin(), h.members.end(), self);
  if (me == h.members.end() || h.members.size() < 2) return;
  const PeerId right = h.members[static_cast<std::size_t>(me - h.members.begin() + 1) % h.members.size()];
  const auto address = addresses.find(right);
  if (right == self || address == addresses.end()) return;
  send_control(address->second, ring::kAbort, ring::encode(ring::AbortNotice{h.key, h.scope, h.round}),
               std::chrono::milliseconds(100));
}

void RingAllreduce::Engine::start_attempt(std::uint64_t scope, std::uint64_t round, std::uint64_t key,
                                          std::uint64_t view, std::uint32_t generation, std::vector<PeerId> members,
                                          PeerId left) {
  set_round(scope, round);
  act.kind = Kind::attempt;
  act.key = key;
  act.view = view;
  act.generation = generation;
  act.members = std::move(members);
  act.left = left;
  act.abort.reset();
  act.hint = 0;
  act.detail.clear();
  if (!contains(act.attempted, key)) act.attempted.push_back(key);
  // Hellos of other attempts of this round that arrived before this one started: the rules
  // apply to them now (a sender on an older view is told, a newer left neighbour aborts this).
  refile_hellos(scope, round, round);
  // Messages of this attempt that arrived before it started, in arrival order.
  for (auto it = stash.begin(); it != stash.end();) {
    if (it->key == key) {
      stash_bytes -= it->message.payload.data.size();
      ready.push_back(std::move(it->message));
      it = stash.erase(it);
    } else {
      ++it;
    }
  }
}

void RingAllreduce::Engine::raise_abort(RingStatus status, std::uint64_t hint, std::string detail) {
  if (act.kind != Kind::attempt) return;
  act.hint = std::max(act.hint, hint);
  if (act.abort) return;
  act.abort = status;
  act.detail = std::move(detail);
}

std::optional<ReceivedMessage> RingAllreduce::Engine::next(Clock::time_point deadline) {
  for (;;) {
    if (!ready.empty()) {
      ReceivedMessage m = std::move(ready.front());
      ready.pop_front();
      return m;
    }
    const auto now = Clock::now();
    const auto wait = deadline > now ? std::chrono::ceil<std::chrono::milliseconds>(deadline - now)
                                     : std::chrono::milliseconds(0);
    auto m = transport.receive(wait, msg::kCollective);
    if (!m) return std::nullopt;
    if (auto mine = classify(std::move(*m))) return mine;
    if (Clock::now() >= deadline) return std::nullopt;
  }
}

std::optional<ReceivedMessage> RingAllreduce::Engine::classify(ReceivedMessage m) {
  if (m.sender_id != 0 && !m.from.empty() && addresses.size() < kMaxAddresses) addresses.try_emplace(m.sender_id, m.from);
  switch (m.type) {
    case ring::kChunk: {
      if (!m.params) return std::nullopt;
      const std::uint64_t key = m.params->tag;
      if (act.kind == Kind::attempt && key == act.key) return m;
      if (!dead.count(key)) keep(std::move(m), key);
      return std::nullopt;
    }
    case ring::kResult:
      if (act.kind != Kind::idle && m.params && m.params->tag == ring::result_tag(act.scope, act.round)) return m;
      return std::nullopt;
    case ring::kHello: {
      auto h = ring::decode_hello(m.bytes());
      if (!h) return std::nullopt;
      if (act.kind == Kind::attempt && h->key == act.key) return m;
      file_hello(std::move(m), *h);
      return std::nullopt;
    }
    case ring::kAbort: {
      auto a = ring::decode_abort(m.bytes());
      if (!a) return std::nullopt;
      if (act.kind == Kind::attempt && a->key == act.key) return m;
      mark_dead(a->key);
      return std::nullopt;
    }
    case ring::kQuery: {
      auto q = ring::decode_query(m.bytes());
      if (q) on_query(m, std::move(*q));
      return std::nullopt;
    }
    case ring::kAnswer: {
      auto a = ring::decode_answer(m.bytes());
      if (a && act.kind != Kind::idle && a->scope == act.scope && a->round == act.round) return m;
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

void RingAllreduce::Engine::file_hello(ReceivedMessage&& m, const ring::Hello& h) {
  // Every branch that gives the attempt up for good also declines it: this member's right
  // neighbour in that attempt would otherwise wait for this member until the timeout.
  note_generation(h);
  if (dead.count(h.key)) {
    decline(h);
    return;
  }
  if (auto it = results.find(h.scope); it != results.end() && it->second.round == h.round) {
    mark_dead(h.key);  // a round this member finished: the sender lost it; hand it the result
    send_result(m.from, h.scope);
    decline(h);
    return;
  }
  const auto sc = scopes.find(h.scope);
  if (sc != scopes.end() && h.round < sc->second.round) {
    mark_dead(h.key);
    ring::Answer a;
    a.scope = h.scope;
    a.round = h.round;
    a.kind = ring::AnswerKind::beyond;
    a.answerer_round = sc->second.round;
    send_answer(m.from, a);
    decline(h);
    return;
  }
  const bool attempting_scope = act.kind == Kind::attempt && act.scope == h.scope;
  if (attempting_scope && h.round == act.round) {
    if (h.view < act.view) {
      mark_dead(h.key);  // its sender runs on an older view: tell it, and wait for it
      ring::Answer a;
      a.scope = h.scope;
      a.round = h.round;
      a.kind = ring::AnswerKind::newer_view;
      a.view = act.view;
      send_answer(m.from, a);
      decline(h);
      return;
    }
    // A member of this attempt on a newer view will not take part in it.
    if (h.view > act.view && contains(act.members, m.sender_id))
      raise_abort(RingStatus::stale_view, 0, "a member of this attempt runs this round on a newer view");
    if (h.view == act.view) {
      if (h.generation > act.generation && contains(act.members, m.sender_id)) {
        // The others gave this attempt up and retry the round with the same members.
        raise_abort(RingStatus::stale_view, 0, "the members retry this round");
      } else {
        mark_dead(h.key);  // an older retry, or the same view with other members: it cannot finish
        decline(h);
        return;
      }
    }
  } else if (attempting_scope && h.round > act.round) {
    raise_abort(RingStatus::behind, h.round, "a member is at a later round");
  }
  const std::uint64_t key = h.key;
  keep(std::move(m), key);
}

void RingAllreduce::Engine::on_query(const ReceivedMessage& m, ring::Query q) {
  PendingQuery p{m.from, m.sender_id, std::move(q), Clock::now()};
  // A newer question from the same member about the same round replaces the old one.
  std::erase_if(queries, [&](const PendingQuery& o) {
    return o.sender == p.sender && o.query.scope == p.query.scope && o.query.round == p.query.round;
  });
  if (try_answer(p)) return;
  if (queries.size() >= kMaxDeferred) queries.erase(queries.begin());  // the oldest goes
  queries.push_back(std::move(p));
}

bool RingAllreduce::Engine::try_answer(const PendingQuery& p) {
  const ring::Query& q = p.query;
  ring::Answer a;
  a.scope = q.scope;
  a.round = q.round;
  if (auto it = results.find(q.scope); it != results.end() && it->second.round == q.round) {
    send_result(p.from, q.scope);
    return true;
  }
  if (act.kind == Kind::attempt && act.scope == q.scope && act.round == q.round) {
    // This attempt may still finish without the asker if the asker took part in it (its
    // values may all have gone out) or is not one of its members: answer when it ends.
    if (contains(q.attempted, act.key) || !contains(act.members, p.sender)) return false;
    a.kind = ring::AnswerKind::aborted;
    send_answer(p.from, a);
    return true;
  }
  const auto sc = scopes.find(q.scope);
  if (sc != scopes.end() && sc->second.round >= q.round) {
    a.kind = sc->second.round > q.round ? ring::AnswerKind::beyond : ring::AnswerKind::aborted;
    a.answerer_round = sc->second.round;
    send_answer(p.from, a);
    return true;
  }
  // The asker is at a later round than this member: this member is behind.
  if (act.kind == Kind::attempt && act.scope == q.scope) raise_abort(RingStatus::behind, q.round, "a member asks about a later round");
  return false;
}

void RingAllreduce::Engine::answer_deferred() {
  const auto now = Clock::now();
  std::vector<PendingQuery> keep_for_later;
  std::vector<PendingQuery> pending;
  pending.swap(queries);
  for (auto& p : pending) {
    if (now - p.at > options.stash_ttl) continue;
    if (!try_answer(p)) keep_for_later.push_back(std::move(p));
  }
  // try_answer never adds to `queries`; on_query may have run meanwhile only through next().
  for (auto& p : keep_for_later) queries.push_back(std::move(p));
}

void RingAllreduce::Engine::keep(ReceivedMessage&& m, std::uint64_t key) {
  const auto now = Clock::now();
  const std::size_t bytes = m.payload.data.size();
  stash.push_back({std::move(m), key, now});
  stash_bytes += bytes;
  while (!stash.empty() &&
         (stash_bytes > options.stash_bytes || now - stash.front().at > options.stash_ttl)) {
    stash_bytes -= stash.front().message.payload.data.size();
    stash.pop_front();
  }
}

void RingAllreduce::Engine::mark_dead(std::uint64_t key) {
  if (!dead.insert(key).second) return;
  dead_order.push_back(key);
  if (dead_order.size() > kDeadKeys) {
    dead.erase(dead_order.front());
    dead_order.pop_front();
  }
  for (auto it = stash.begin(); it != stash.end();) {
    if (it->key == key) {
      stash_bytes -= it->message.payload.data.size();
      it = stash.erase(it);
    } else {
      ++it;
    }
  }
}

void RingAllreduce::Engine::refile_hellos(std::uint64_t scope, std::uint64_t first_round, std::uint64_t last_round) {
  std::vector<ReceivedMessage> again;
  for (auto it = stash.begin(); it != stash.end();) {
    if (it->message.type == ring::kHello) {
      auto h = ring::decode_hello(it->message.bytes());
      if (h && h->scope == scope && h->round >= first_round && h->round <= last_round &&
          !(act.kind == Kind::attempt && h->key == act.key)) {
        again.push_back(std::move(it->message));
        stash_bytes -= again.back().payload.data.size();
        it = stash.erase(it);
        continue;
      }
    }
    ++it;
  }
  for (auto& m : again) {
    auto h = ring::decode_hello(m.bytes());
    file_hello(std::move(m), *h);
  }
}

bool RingAllreduce::Engine::evidence_ahead(std::uint64_t scope, std::uint64_t round) const {
  for (const auto& k : stash) {
    if (k.message.type != ring::kHello) continue;
    auto h = ring::decode_hello(k.message.bytes());
    if (h && h->scope == scope && h->round > round) return true;
  }
  for (const auto& p : queries)
    if (p.query.scope == scope && p.query.round > round) return true;
  return false;
}

void RingAllreduce::Engine::send_control(const std::string& to, std::uint16_t type,
                                         const std::vector<std::byte>& bytes, std::chrono::milliseconds timeout) {
  try {
    transport.send(to, type, bytes, timeout);
  } catch (const UserError&) {
    // An address this transport may not reach (no key, not loopback): nothing to tell it.
  }
}

void RingAllreduce::Engine::send_answer(const std::string& to, const ring::Answer& a) {
  send_control(to, ring::kAnswer, ring::encode(a), options.send_timeout);
}

void RingAllreduce::Engine::send_result(const std::string& to, std::uint64_t scope) {
  const Result& r = results.at(scope);
  ring::Answer a;
  a.scope = scope;
  a.round = r.round;
  a.kind = ring::AnswerKind::done;
  a.elements = r.values.size();
  a.contributors = r.contributors;
  a.member_set = r.member_set;
  send_answer(to, a);
  if (r.values.empty()) return;
  auto copy = std::make_shared<const std::vector<float>>(r.values);
  ParamSend meta;
  meta.type = ring::kResult;
  meta.tag = ring::result_tag(scope, r.round);
  try {
    SendResult sent = transport.send_params(to, meta, *copy, options.send_timeout);
    lingering.push_back({copy, sent.completion});
  } catch (const UserError&) {
  }
  reap_lingering();
}

void RingAllreduce::Engine::reap_lingering() {
  std::erase_if(lingering, [](const ring::HeldSend& l) { return l.completion.done(); });
}

void RingAllreduce::Engine::serve(std::chrono::milliseconds timeout) {
  act.kind = Kind::idle;
  const auto deadline = Clock::now() + timeout;
  answer_deferred();
  reap_lingering();
  // Everything waiting now, then whatever arrives until the deadline (bounded under a flood).
  for (int i = 0; i < 100000; ++i) {
    const auto now = Clock::now();
    const auto wait = deadline > now ? std::chrono::ceil<std::chrono::milliseconds>(deadline - now)
                                     : std::chrono::milliseconds(0);
    auto m = transport.receive(wait, msg::kCollective);
    if (!m) break;
    classify(std::move(*m));  // idle: nothing is for an activity
  }
  answer_deferred();
}

}  // namespace chorus
