// RingAllreduce: the public face of the collective (see peers/ring/ring_allreduce.h).
#include "peers/ring/ring_allreduce.h"

#include "peers/ring/collective_engine.h"
#include "topology/hash_order.h"

namespace chorus {

const char* ring_point_name(RingPoint point) {
  switch (point) {
    case RingPoint::reduce_scatter_begin: return "reduce_scatter_begin";
    case RingPoint::reduce_scatter_chunk: return "reduce_scatter_chunk";
    case RingPoint::all_gather_begin: return "all_gather_begin";
    case RingPoint::all_gather_chunk: return "all_gather_chunk";
    case RingPoint::end: return "end";
  }
  return "unknown";
}

const char* ring_status_name(RingStatus status) {
  switch (status) {
    case RingStatus::ok: return "ok";
    case RingStatus::member_lost: return "member_lost";
    case RingStatus::peer_aborted: return "peer_aborted";
    case RingStatus::stale_view: return "stale_view";
    case RingStatus::behind: return "behind";
    case RingStatus::done_elsewhere: return "done_elsewhere";
    case RingStatus::protocol_error: return "protocol_error";
    case RingStatus::timeout: return "timeout";
  }
  return "unknown";
}

const char* collective_status_name(CollectiveStatus status) {
  switch (status) {
    case CollectiveStatus::done: return "done";
    case CollectiveStatus::skipped: return "skipped";
    case CollectiveStatus::failed: return "failed";
  }
  return "unknown";
}

RingAllreduce::RingAllreduce(Transport& transport, RingOptions options)
    : engine_(std::make_unique<Engine>(transport, std::move(options))) {}

RingAllreduce::~RingAllreduce() = default;

RingOutcome RingAllreduce::run(std::span<float> data, const RingAttempt& attempt) {
  const auto deadline = std::chrono::steady_clock::now() + attempt.timeout;
  RingOutcome out = engine_->attempt(data, attempt, deadline);
  engine_->act.kind = Engine::Kind::idle;
  engine_->answer_deferred();
  return out;
}

CollectiveOutcome RingAllreduce::allreduce(std::span<float> data, const CollectiveRequest& request) {
  return engine_->allreduce(data, request);
}

void RingAllreduce::serve(std::chrono::milliseconds timeout) { engine_->serve(timeout); }

const RingOptions& RingAllreduce::options() const { return engine_->options; }

std::uint64_t collective_scope(const std::string& name) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then one splitmix64 round
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return splitmix64(h);
}

}  // namespace chorus
