#pragma once
// The state behind one RingAllreduce: what the member is doing now (an attempt, resolving a
// failed round, or nothing), messages that arrived early, questions it has not answered yet,
// the last result of each scope (for members that lost a round another member finished), and
// the dispatch that sorts every collective message into "for the current activity", "answer it
// now", "keep it for later" or "drop it".
//
// The rules, for a member whose current round in a scope is r (see docs/ring.md):
//   hello of attempt K' for (scope, round h) that is not the current attempt:
//     h is a round this member holds the result of   -> answer done (+ result) to its sender
//     h < r                                          -> answer beyond(r)
//     h == r, attempting, K' older view              -> answer newer_view (the sender refreshes)
//     h == r, attempting, K' newer view, from left   -> abort (stale_view)
//     h > r, attempting                              -> abort (behind)
//     otherwise                                      -> keep (it may be this member's next attempt)
//   query for (scope, q) from a member:
//     holds q's result -> done; attempting q: defer while the asker took part in this attempt
//     (or is not in it), else aborted; current round > q -> beyond; == q -> aborted;
//     current round < q -> defer until this member reaches q (an attempt of an earlier round
//     in that scope is aborted: the others have moved on).
//   abort notice for the current attempt from the left neighbour -> abort (peer_aborted)
//
// Not thread-safe: used by the one thread that runs the collective.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "peers/ring/collective_messages.h"
#include "peers/ring/ring_allreduce.h"
#include "peers/ring/ring_outbox.h"

namespace chorus {

struct RingAllreduce::Engine {
  using Clock = std::chrono::steady_clock;

  Engine(Transport& transport, RingOptions options);

  // --- entry points (ring_attempt.cpp, collective_recovery.cpp) ---
  RingOutcome attempt(std::span<float> data, const RingAttempt& a, Clock::time_point deadline);
  CollectiveOutcome allreduce(std::span<float> data, const CollectiveRequest& request);
  void serve(std::chrono::milliseconds timeout);

  // --- what this member is doing ---
  enum class Kind { idle, attempt, resolving };
  struct Activity {
    Kind kind = Kind::idle;
    std::uint64_t scope = 0, round = 0;
    std::uint64_t key = 0;           // attempt: its key
    std::uint64_t view = 0;          // attempt: its view number
    std::vector<PeerId> members;     // attempt: its members
    PeerId left = 0;                 // attempt: the member it receives from
    std::uint32_t generation = 0;    // attempt: its generation
    std::vector<std::uint64_t> attempted;  // keys attempted for (scope, round)
    // For (scope, round): the newest generation any hello showed, by view (view_key).
    std::unordered_map<std::uint64_t, std::uint32_t> generations;
    std::optional<RingStatus> abort;       // raised by dispatch while attempting
    std::uint64_t hint = 0;                // behind: the highest round seen
    std::string detail;
  };
  void start_attempt(std::uint64_t scope, std::uint64_t round, std::uint64_t key, std::uint64_t view,
                     std::uint32_t generation, std::vector<PeerId> members, PeerId left);
  void set_round(std::uint64_t scope, std::uint64_t round);
  void raise_abort(RingStatus status, std::uint64_t hint, std::string detail);

  // --- receiving ---
  // The next message for the current activity, or nothing by `deadline` (never waits longer;
  // a deadline in the past polls once). Everything else is handled or kept on the way.
  std::optional<ReceivedMessage> next(Clock::time_point deadline);
  std::optional<ReceivedMessage> classify(ReceivedMessage m);
  void file_hello(ReceivedMessage&& m, const ring::Hello& h);
  void on_query(const ReceivedMessage& m, ring::Query q);
  void keep(ReceivedMessage&& m, std::uint64_t key);
  // This member will never take part in the attempt `h` names: its right neighbour in that
  // attempt's ring waits for it, so tell that neighbour the attempt is over (kAbort).
  void decline(const ring::Hello& h);
  // Notes the newest generation a hello of the current round shows for its view.
  void note_generation(const ring::Hello& h);
  void mark_dead(std::uint64_t key);
  // Runs the hello rules again on kept hellos of `scope` for rounds in [first, last] (at the
  // start of a round or an attempt, when what they mean has changed).
  void refile_hellos(std::uint64_t scope, std::uint64_t first_round, std::uint64_t last_round);
  bool evidence_ahead(std::uint64_t scope, std::uint64_t round) const;

  // --- answering ---
  struct PendingQuery {
    std::string from;
    PeerId sender = 0;
    ring::Query query;
    Clock::time_point at;
  };
  // Answers the query if this member can now; false: keep it for later.
  bool try_answer(const PendingQuery& q);
  void answer_deferred();
  void send_answer(const std::string& to, const ring::Answer& a);
  void send_result(const std::string& to, std::uint64_t scope);
  void send_control(const std::string& to, std::uint16_t type, const std::vector<std::byte>& bytes,
                    std::chrono::milliseconds timeout);
  void reap_lingering();

  Transport& transport;
  RingOptions options;
  Activity act;

  struct ScopeProgress {
    std::uint64_t round = 0;
  };
  std::unordered_map<std::uint64_t, ScopeProgress> scopes;  // this member's current round per scope
  struct Result {
    std::uint64_t round = 0;
    std::uint32_t contributors = 0;
    std::uint64_t member_set = 0;
    std::vector<float> values;
  };
  std::unordered_map<std::uint64_t, Result> results;  // the last finished round of each scope

  struct Kept {
    ReceivedMessage message;
    std::uint64_t key = 0;
    Clock::time_point at;
  };
  std::deque<Kept> stash;
  std::size_t stash_bytes = 0;
  std::deque<ReceivedMessage> ready;  // the current attempt's messages taken from the stash
  std::deque<ReceivedMessage> early_results;  // kResult chunks not yet asked for
  std::vector<PendingQuery> queries;


  std::unordered_map<PeerId, std::string> addresses;  // members' addresses, from views and messages
  static constexpr std::size_t kMaxAddresses = 4096;   // bound on `addresses` (hostile senders)

  std::unordered_set<std::uint64_t> dead;
  std::deque<std::uint64_t> dead_order;

  // Buffers a zero-copy send still reads; kept until the transport lets go of them.
  std::vector<ring::HeldSend> lingering;

  std::vector<float> backup;  // allreduce(): the values held before the round

  // How long successful attempts take (a moving average; zero before the first), from which
  // the silence bound of an attempt is derived.
  Clock::duration typical_attempt{};
  std::chrono::milliseconds silence_bound(std::chrono::milliseconds timeout) const;

  // Set by attempt() when it returns done_elsewhere: who holds the result.
  struct Elsewhere {
    std::string from;
    PeerId sender = 0;
    ring::Answer answer;
  } elsewhere;
};

}  // namespace chorus
