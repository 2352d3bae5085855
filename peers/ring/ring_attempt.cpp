// One ring attempt (RingAllreduce::run): reduce-scatter and all-gather as one stream of chunks
// from the left neighbour, each reduced or stored and handed on to the right as it arrives.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "foundations/base/error.h"
#include "peers/ring/collective_engine.h"
#include "peers/ring/reduce_kernels.h"
#include "peers/ring/ring_geometry.h"

namespace chorus {

namespace {

using Clock = std::chrono::steady_clock;
using Engine = RingAllreduce::Engine;
using ring::Phase;

// The position of this peer in the ring; throws UserError for an unusable member list.
std::size_t position_in(const RingView& view, PeerId self) {
  if (view.members.empty()) throw UserError("all-reduce: the member list is empty");
  std::unordered_set<PeerId> seen;
  std::size_t position = view.members.size();
  for (std::size_t i = 0; i < view.members.size(); ++i) {
    const RingMember& m = view.members[i];
    if (!seen.insert(m.id).second)
      throw UserError(fmt::format("all-reduce: member {:016x} is listed twice", m.id));
    if (m.address.empty()) throw UserError(fmt::format("all-reduce: member {:016x} has no address", m.id));
    if (m.id == self) position = i;
  }
  if (position == view.members.size())
    throw UserError(fmt::format("all-reduce: this peer ({:016x}) is not in the member list", self));
  return position;
}

class RingRun {
 public:
  RingRun(Engine& engine, std::span<float> data, const RingAttempt& a, std::size_t position, std::uint64_t key,
          Clock::time_point deadline)
      : e_(engine),
        data_(data),
        a_(a),
        n_(a.view.members.size()),
        p_(position),
        key_(key),
        deadline_(deadline),
        next_check_(Clock::now() + engine.options.poll_interval),
        last_chunk_(Clock::now()),
        geometry_(data.size(), n_, chunk_elements(engine.options, data.size(), n_)),
        left_(a.view.members[(position + n_ - 1) % n_]),
        right_(a.view.members[(position + 1) % n_]),
        out_(engine.transport, right_.address, key, data.size(), geometry_.total_chunks()),
        w_(a.weight),
        wf_(static_cast<float>(a.weight)) {}

  RingOutcome go();

 private:
  static std::size_t chunk_elements(const RingOptions& o, std::size_t length, std::size_t n) {
    if (o.chunk_bytes) return std::max<std::size_t>(1, o.chunk_bytes / sizeof(float));
    return ring::auto_chunk_elements(length / n);
  }

  void point(RingPoint p, std::size_t step, std::size_t chunk) {
    if (!e_.options.hook) return;
    out_.flush();  // what was queued before the point has left when the hook runs
    e_.options.hook(p, step, chunk);
  }
  bool still_valid(Clock::time_point now) {
    if (now < next_check_) return true;
    next_check_ = now + e_.options.poll_interval;
    return !a_.still_valid || a_.still_valid();
  }
  // Moves the receive position to the next chunk of a non-empty segment.
  void settle();
  void advance() {
    ++j_;
    settle();
  }
  void all_gather_begins() {
    if (ag_begun_) return;
    ag_begun_ = true;
    point(RingPoint::all_gather_begin, 0, 0);
  }
  std::optional<RingOutcome> on_message(ReceivedMessage& m);
  bool take_chunk(const ReceivedMessage& m, std::string& why);
  bool wait_released(std::size_t chunk_index, std::string& why);
  RingOutcome finish();
  RingOutcome fail(RingStatus status, std::string detail);
  RingOutcome outcome(RingStatus status, std::string detail) {
    RingOutcome o;
    o.status = status;
    o.detail = std::move(detail);
    o.round_hint = e_.act.hint;
    o.bytes_sent = out_.bytes_sent();
    o.bytes_received = bytes_received_;
    return o;
  }

  Engine& e_;
  std::span<float> data_;
  const RingAttempt& a_;
  const std::size_t n_, p_;
  const std::uint64_t key_;
  const Clock::time_point deadline_;
  Clock::time_point next_check_;
  Clock::time_point last_chunk_;  // when the left neighbour's last chunk came (or the start)
  const ring::RingGeometry geometry_;
  const RingMember& left_;
  const RingMember& right_;
  ring::Outbox out_;
  const double w_;
  const float wf_;

  // Where the incoming stream is: phase, step, segment, chunk within the segment.
  Phase phase_ = Phase::reduce_scatter;
  std::size_t step_ = 0, segment_ = 0, j_ = 0;
  bool finished_ = false, ag_begun_ = false;
  std::uint64_t bytes_received_ = 0;
};

void RingRun::settle() {
  while (!finished_ && j_ >= geometry_.chunks_in(segment_)) {
    j_ = 0;
    if (++step_ + 1 >= n_) {
      if (phase_ == Phase::all_gather) {
        finished_ = true;
        break;
      }
      all_gather_begins();  // reached when this member's own segment is empty
      phase_ = Phase::all_gather;
      step_ = 0;
    }
    segment_ = geometry_.received_segment(p_, phase_, step_);
  }
}

RingOutcome RingRun::go() {
  const std::size_t length = data_.size();
  if (n_ == 1 || length == 0) {
    point(RingPoint::reduce_scatter_begin, 0, 0);
    if (n_ == 1 && a_.op == ReduceOp::sum && wf_ != 1.0f) ring::scale(data_.data(), wf_, length);
    point(RingPoint::end, 0, 0);
    return outcome(RingStatus::ok, {});
  }

  ring::Hello hello;
  hello.key = key_;
  hello.scope = a_.scope;
  hello.round = a_.round;
  hello.view = a_.view.number;
  hello.generation = a_.generation;
  hello.members = ring::member_ids(a_.view);
  point(RingPoint::reduce_scatter_begin, 0, 0);

  // Reduce-scatter step 0: this member's own segment, weighted. The hello goes right after the
  // first chunk (the receiver files messages by key, in either order; the chunk is what the
  // right neighbour is waiting for).
  const std::size_t own = geometry_.sent_segment(p_, Phase::reduce_scatter, 0);
  if (wf_ != 1.0f)
    ring::scale(data_.data() + geometry_.segment_begin(own), wf_, geometry_.segment_size(own));
  for (std::size_t j = 0; j < geometry_.chunks_in(own); ++j) {
    const ring::ChunkRef c = geometry_.chunk(own, j);
    out_.push_chunk(ring::kChunk, data_.subspan(c.begin, c.count), c.begin, ring::weight_bits(w_), nullptr, c.index);
    if (j == 0) out_.push_bytes(ring::kHello, ring::encode(hello));
  }
  if (geometry_.chunks_in(own) == 0) out_.push_bytes(ring::kHello, ring::encode(hello));
  segment_ = geometry_.received_segment(p_, Phase::reduce_scatter, 0);
  settle();

  for (;;) {
    if (finished_) {
      // Every chunk is in: this member has the result whatever happens now. Hand the rest to
      // the right neighbour, waiting for room (it needs them), unless it is gone.
      const SendStatus sent = out_.flush(e_.options.poll_interval);
      const auto now = Clock::now();
      if (sent != SendStatus::kTimeout || now >= deadline_ || !still_valid(now)) break;
      continue;
    }
    const SendStatus sent = out_.flush();
    if (sent == SendStatus::kUnreachable) return fail(RingStatus::member_lost, "the right neighbour is unreachable");
    if (e_.act.abort) return fail(*e_.act.abort, e_.act.detail);
    const auto now = Clock::now();
    if (now >= deadline_) return fail(RingStatus::timeout, "the attempt timed out");
    if (!still_valid(now)) return fail(RingStatus::member_lost, "a member left the view or is suspected");
    if (a_.silence.count() > 0 && now - last_chunk_ > a_.silence)
      return fail(RingStatus::member_lost,
                  fmt::format("nothing from the left neighbour {} for {} ms", left_.address, a_.silence.count()));
    // With sends waiting for room, come back soon to retry them; else wait for the left.
    const auto until = std::min(deadline_, sent == SendStatus::kTimeout ? now + std::chrono::milliseconds(1) : next_check_);
    auto m = e_.next(until);
    if (!m) continue;
    if (auto done = on_message(*m)) return *done;
  }
  return finish();
}

std::optional<RingOutcome> RingRun::on_message(ReceivedMessage& m) {
  switch (m.type) {
    case ring::kChunk: {
      if (m.sender_id != left_.id || finished_) return std::nullopt;  // not part of this ring's stream
      std::string why;
      if (!take_chunk(m, why)) return fail(RingStatus::protocol_error, why);
      last_chunk_ = Clock::now();
      return std::nullopt;
    }
    case ring::kAbort:
      if (m.sender_id == left_.id) return fail(RingStatus::peer_aborted, "the left neighbour abandoned the attempt");
      return std::nullopt;
    case ring::kAnswer: {
      auto a = ring::decode_answer(m.bytes());
      if (!a) return std::nullopt;
      if (a->kind == ring::AnswerKind::done && a->elements == data_.size()) {
        e_.elsewhere = {m.from, m.sender_id, *a};
        return fail(RingStatus::done_elsewhere, fmt::format("{} holds the result", m.from));
      }
      if (a->kind == ring::AnswerKind::beyond) {
        e_.act.hint = std::max(e_.act.hint, a->answerer_round);
        return fail(RingStatus::behind, fmt::format("{} is at round {}", m.from, a->answerer_round));
      }
      if (a->kind == ring::AnswerKind::newer_view && a->view > a_.view.number)
        return fail(RingStatus::stale_view, fmt::format("{} runs this round on view {}", m.from, a->view));
      return std::nullopt;
    }
    case ring::kResult:
      e_.early_results.push_back(std::move(m));
      return std::nullopt;
    default:  // the left neighbour's hello: nothing to do
      return std::nullopt;
  }
}

bool RingRun::take_chunk(const ReceivedMessage& m, std::string& why) {
  const wire::ParamHeader& ph = *m.params;
  const ring::ChunkRef c = geometry_.chunk(segment_, j_);
  if (ph.offset != c.begin || ph.count != c.count || ph.total_elements != data_.size()) {
    why = fmt::format("expected elements [{}, +{}) of {}, got [{}, +{}) of {}", c.begin, c.count, data_.size(),
                      ph.offset, ph.count, ph.total_elements);
    return false;
  }
  const std::span<const float> src = m.floats();
  float* dst = data_.data() + c.begin;
  bytes_received_ += src.size_bytes();
  if (phase_ == Phase::reduce_scatter) {
    const bool last = step_ + 2 == n_;
    const double w_in = ring::weight_from_bits(ph.step);
    if (!(w_in > 0) || !std::isfinite(w_in)) {
      why = fmt::format("a partial sum carries weight {}", w_in);
      return false;
    }
    const double total = w_in + w_;
    const float s = last && a_.op == ReduceOp::average ? static_cast<float>(1.0 / total) : 1.0f;
    ring::combine(dst, wf_, src.data(), s, last, c.count);
    if (last) all_gather_begins();
    out_.push_chunk(ring::kChunk, {dst, c.count}, c.begin, ring::weight_bits(total), nullptr, c.index);
    if (!last) point(RingPoint::reduce_scatter_chunk, step_, j_);
  } else {
    if (step_ + 2 < n_) out_.push_chunk(ring::kChunk, src, c.begin, ph.step, m.payload.owner, ring::Outbox::kNoChunk);
    if (!wait_released(c.index, why)) return false;
    std::memcpy(dst, src.data(), src.size_bytes());
    point(RingPoint::all_gather_chunk, step_, j_);
  }
  advance();
  return true;
}

bool RingRun::wait_released(std::size_t chunk_index, std::string& why) {
  if (out_.queued(chunk_index)) {
    why = "an all-gather chunk arrived before this member's reduce-scatter chunk of it left";
    return false;
  }
  const SendCompletion& done = out_.completion(chunk_index);
  while (!done.done()) {
    const auto now = Clock::now();
    if (now >= deadline_) {
      why = "the transport still reads a chunk at the deadline";
      return false;
    }
    if (!still_valid(now)) {
      why = "a member left the view";
      return false;
    }
    done.wait_for(std::min(std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now), e_.options.poll_interval));
  }
  return true;
}

RingOutcome RingRun::finish() {
  // Every chunk is in and handed over (what is still queued could not be: its destination is
  // gone); return once the transport no longer reads `data`.
  out_.drop_queued();
  while (!out_.wait_released(std::min(deadline_, Clock::now() + e_.options.poll_interval))) {
    const auto now = Clock::now();
    if (now >= deadline_ || !still_valid(now)) {
      // This member has the result; only the right neighbour is gone or stuck: drop what is
      // queued for it so the buffers are released.
      e_.transport.forget(right_.address);
      out_.wait_released(Clock::now() + std::chrono::seconds(1));
      break;
    }
  }
  for (auto& held : out_.take_unreleased()) e_.lingering.push_back(std::move(held));
  point(RingPoint::end, 0, 0);
  return outcome(RingStatus::ok, {});
}

RingOutcome RingRun::fail(RingStatus status, std::string detail) {
  out_.drop_queued();
  // The right neighbour waits on this member: tell it this attempt is over.
  ring::AbortNotice notice{key_, a_.scope, a_.round};
  e_.send_control(right_.address, ring::kAbort, ring::encode(notice), std::chrono::milliseconds(100));
  // `data` may be overwritten once this returns: wait until the transport lets go of it.
  if (!out_.wait_released(Clock::now() + std::chrono::seconds(1))) {
    e_.transport.forget(right_.address);
    out_.wait_released(Clock::now() + std::chrono::seconds(2));
  }
  for (auto& held : out_.take_unreleased()) e_.lingering.push_back(std::move(held));
  return outcome(status, std::move(detail));
}

}  // namespace

RingOutcome Engine::attempt(std::span<float> data, const RingAttempt& a, Clock::time_point deadline) {
  const std::size_t position = position_in(a.view, transport.id());
  if (!(a.weight > 0) || !std::isfinite(a.weight))
    throw UserError(fmt::format("all-reduce: weight {} must be positive and finite", a.weight));
  const std::size_t n = a.view.members.size();
  const std::uint64_t key = ring::attempt_key(a.scope, a.round, a.view, a.generation);
  const bool abandoned = dead.count(key) > 0;  // e.g. its abort notice came before it started here
  start_attempt(a.scope, a.round, key, a.view.number, a.generation, ring::member_ids(a.view),
                a.view.members[(position + n - 1) % n].id);
  if (abandoned) {  // pass the news on: the right neighbour may have started it
    if (n > 1)
      send_control(a.view.members[(position + 1) % n].address, ring::kAbort,
                   ring::encode(ring::AbortNotice{key, a.scope, a.round}), std::chrono::milliseconds(100));
    RingOutcome out;
    out.status = RingStatus::peer_aborted;
    out.detail = "another member abandoned this attempt before it started here";
    return out;
  }
  RingRun run(*this, data, a, position, key, deadline);
  RingOutcome out = run.go();
  if (!out.ok()) mark_dead(key);
  reap_lingering();
  return out;
}

}  // namespace chorus
