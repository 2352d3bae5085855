#pragma once
// RingAllreduce: the ring all-reduce collective over a chorus Transport — sum or (weighted)
// average of one flat float buffer across the members of a collective, every member ending
// with bit-identical values.
//
// Algorithm: the buffer is cut into one segment per member (sizes differ by at most one
// element; a buffer shorter than the ring leaves some segments empty) and each segment into
// chunks. Reduce-scatter, then all-gather, each N-1 steps around the ring (members in the order
// given, normally the topology module's hash order): a member sends chunks to its right
// neighbour and reduces or stores what arrives from its left. The steps are not separated by
// any barrier: every chunk is reduced and forwarded as soon as it arrives, so chunk c is
// reduced while chunk c+1 is still in flight, and each member sends and receives 2(N-1)/N of
// the buffer. Sends are zero-copy (the transport reads `data` in place); the reduction is a
// vectorised pass over each chunk; the collective runs on the calling thread and adds no thread
// hop of its own per chunk (the transport's I/O threads aside). When run() or allreduce()
// returns, the transport no longer reads `data`. Exact for any N >= 1 and any length,
// including 0 and lengths below N: with integer-valued floats the sum is the exact sum.
//
// Weights: member i contributes weight w_i (> 0). sum gives Σ w_i x_i; average gives
// Σ w_i x_i / Σ w_i (the plain average when all weights are 1). The weight of each partial
// sum travels with its chunks, so members need not know each other's weights.
//
// Two entry points:
//   run()        one attempt on a fixed member list. Returns ok, or why it gave up (a member
//                left the view, a peer aborted, this peer is behind or its view is stale, the
//                timeout). After a failed attempt `data` holds unspecified values.
//   allreduce()  what strategies call: run() plus recovery. It keeps the values held before
//                the collective, and when an attempt fails it restores them, asks the current
//                members how the round ended for them and then either takes the result from a
//                member that completed it, skips to the round the others have moved on to, or
//                retries on the new view. Every surviving member therefore ends a round with the
//                same result: the average over all members of the attempt when one of them
//                completed it (a member that died after its contribution had gone out), else
//                the average over the survivors — never a mix of partial sums. Waits are
//                bounded and re-check membership (`alive`) every poll_interval, so a dead member
//                costs about the time membership needs to declare it dead, never a fixed hang.
//
// Rounds: a collective is identified by (scope, round) — e.g. scope "global" or one per group,
// round a counter the members advance together — and an attempt by a key hashed from the
// scope, round, view number and member list. Messages of other attempts are kept for later
// (a member that is ahead) or dropped (a stale attempt); a peer that joins takes part from the
// next collective on: if its round differs from the others', the lower side learns the higher
// round from their answers (CollectiveStatus::skipped with `round` set) and continues from it.
// The protocol is described in docs/ring.md.
//
// Blocking: run(), allreduce() and serve() block the calling thread, each bounded by its
// timeout. Threading: one RingAllreduce per transport, used by one thread at a time; it
// receives only msg::kCollective messages, so other layers may share the transport.
// Errors: a member list without this peer, or duplicate members, is a UserError; NaN or infinity
// in allreduce()'s input is a UserError (the transport would refuse to carry it).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "foundations/transport/transport.h"

namespace chorus {

enum class ReduceOp { sum, average };

struct RingMember {
  PeerId id = 0;
  std::string address;
};

// The members of one collective, in ring order, as computed from a membership view.
struct RingView {
  std::uint64_t number = 0;         // the view it was computed from (grows with every change)
  std::vector<RingMember> members;  // ring order; must include this peer to take part
};

// Named points of an attempt, reported to RingOptions::hook (fault-injection tests).
enum class RingPoint {
  reduce_scatter_begin,  // before this member has sent anything
  reduce_scatter_chunk,  // a reduce-scatter chunk was received, reduced and handed on
  all_gather_begin,      // this member's own segment is final; nothing of it has been sent
  all_gather_chunk,      // an all-gather chunk was received, stored and handed on
  end,                   // every chunk has arrived; this member is about to return ok
};
const char* ring_point_name(RingPoint point);

struct RingOptions {
  // Bytes per chunk message (every member must use the same); 0 chooses by segment size
  // (half a segment, 256 KiB to 1 MiB).
  std::size_t chunk_bytes = 0;
  // How often a wait re-checks `still_valid` / `alive`.
  std::chrono::milliseconds poll_interval{20};
  // How long one send may wait for room at its destination.
  std::chrono::milliseconds send_timeout{5000};
  // Messages of other collectives are kept at most this long, and at most this many bytes.
  std::chrono::milliseconds stash_ttl{60000};
  std::size_t stash_bytes = std::size_t{1} << 30;
  // Test hook, called on the collective's thread at each named point with the ring step and
  // chunk number (0 where they do not apply). An exception it throws leaves run() at once,
  // sending nothing more (how tests kill a member at a precise point).
  std::function<void(RingPoint point, std::size_t step, std::size_t chunk)> hook;
};

struct RingAttempt {
  std::uint64_t scope = 0;
  std::uint64_t round = 0;
  RingView view;
  // Retries of this round on this same view before this attempt (allreduce() picks it; every
  // member must use the same one for the attempt to be the same).
  std::uint32_t generation = 0;
  ReduceOp op = ReduceOp::average;
  double weight = 1.0;
  // Polled while waiting; returning false aborts the attempt (RingStatus::member_lost). Empty:
  // always true.
  std::function<bool()> still_valid;
  std::chrono::milliseconds timeout{60000};
  // >0: abort (RingStatus::member_lost) when no chunk comes from the left neighbour for this
  // long -- a member that is alive to membership but not taking part.
  std::chrono::milliseconds silence{0};
};

enum class RingStatus {
  ok,
  member_lost,     // still_valid() turned false, or the right neighbour became unreachable
  peer_aborted,    // the left neighbour abandoned this attempt
  stale_view,      // a member runs this round on a newer view
  behind,          // the others are at a later round (RingOutcome::round_hint)
  done_elsewhere,  // a member answered that it already holds this round's result
  protocol_error,  // the left neighbour sent something this attempt cannot use
  timeout,
};
const char* ring_status_name(RingStatus status);

struct RingOutcome {
  RingStatus status = RingStatus::ok;
  std::uint64_t round_hint = 0;  // behind: the highest round seen
  std::uint64_t bytes_sent = 0, bytes_received = 0;  // chunk payload bytes
  std::string detail;
  bool ok() const { return status == RingStatus::ok; }
};

struct CollectiveRequest {
  std::uint64_t scope = 0;
  std::uint64_t round = 0;
  ReduceOp op = ReduceOp::average;
  double weight = 1.0;
  // The current members of this collective (re-read after every failed attempt).
  std::function<RingView()> view;
  // Whether a peer is still a member (membership's is_member).
  std::function<bool(PeerId)> alive;
  std::chrono::milliseconds timeout{60000};
};

enum class CollectiveStatus {
  done,     // `data` holds the round's result
  skipped,  // the others are past this round: `data` is unchanged, continue at `round`
  failed,   // no result within the timeout: `data` is unchanged
};
const char* collective_status_name(CollectiveStatus status);

struct CollectiveOutcome {
  CollectiveStatus status = CollectiveStatus::failed;
  std::uint64_t round = 0;        // done: this round; skipped: the round to continue at
  std::size_t contributors = 0;   // done: how many members' values the result combines
  std::uint64_t member_set = 0;   // done: a hash of those members' ids (the same on every
                                  // member holding this result; changes when they change)
  int attempts = 0;               // ring attempts made
  bool from_peer = false;         // done: the result came from a member that completed it
  std::uint64_t bytes_sent = 0, bytes_received = 0;  // payload bytes over all attempts
  std::string detail;             // why, for logs
};

class RingAllreduce {
 public:
  explicit RingAllreduce(Transport& transport, RingOptions options = {});
  ~RingAllreduce();
  RingAllreduce(const RingAllreduce&) = delete;
  RingAllreduce& operator=(const RingAllreduce&) = delete;

  RingOutcome run(std::span<float> data, const RingAttempt& attempt);
  CollectiveOutcome allreduce(std::span<float> data, const CollectiveRequest& request);
  // Answers other members' questions about finished rounds and files early messages; call it
  // between collectives (strategies call it every step). Waits at most `timeout`.
  void serve(std::chrono::milliseconds timeout);

  const RingOptions& options() const;
  struct Engine;

 private:
  std::unique_ptr<Engine> engine_;
};

// A scope id for a name ("global", "group:host:10.0.0.1"); the same on every peer.
std::uint64_t collective_scope(const std::string& name);

}  // namespace chorus
