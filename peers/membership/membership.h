#pragma once
// Membership: a SWIM-style protocol that keeps a numbered view of the live members of a
// swarm, with no coordinator.
//
// Protocol: every probe_interval a member probes one other member (round-robin over a
// shuffled list) with a ping carrying piggybacked updates; without an ack within
// probe_timeout it asks `indirect_probes` others to probe it (ping-req); still nothing, the
// member becomes *suspect*. Suspicion lasts suspicion_max, shrinking towards suspicion_min
// as independent confirmations arrive (Lifeguard); a suspect that hears of its suspicion
// refutes by bumping its incarnation. An unrefuted suspect is declared *dead*. Updates
// (alive/suspect/dead/left) are disseminated by piggybacking on probes and acks (each
// update retransmitted ~retransmit_mult * log(n+1) times), and every sync_interval a
// member exchanges its full state with one random member (anti-entropy). leave() announces
// a graceful departure: others drop the member at once, without a timeout.
//
// Metadata: each member may publish a short text about itself (set_meta; Member::meta), carried
// with its record — how a peer tells the others that its strategy runs.
//
// Views: view() is the set of members currently alive or suspect (suspects still count
// until declared dead), sorted by id. Its number is a pure function of the member table
// (the sum over every member ever known of its state version), so every member that knows
// the same facts holds the same numbered view; it only grows.
//
// Joining: start() contacts the seeds (any of them answering is enough) and receives the
// swarm's full state; if none answers within join_timeout it starts a new swarm alone and
// keeps trying the seeds in the background (so two halves started apart merge).
//
// Healing: a member declared dead is not forgotten: it is sent this member's table at growing
// intervals for reconnect_timeout, and the seeds are tried for as long as the member runs. A
// member that learns it was declared dead refutes with a new incarnation, so two halves of a
// partition that meet again merge into one view (each id's newest incarnation wins).
//
// Identity and address: a member is its id; its address is an attribute of its newest
// incarnation. A member restarted elsewhere (same id, new address, higher incarnation) replaces
// its old record, and the transport's connection to the old address is dropped.
//
// Threading: the protocol runs on its own thread and uses only msg::kMembership messages
// of the transport. All public methods are thread-safe. Callbacks registered with
// on_change() run on the membership thread and must not block.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "foundations/transport/transport.h"
#include "topology/view.h"

namespace chorus {

struct MembershipTimings {
  std::chrono::milliseconds probe_interval{200};
  std::chrono::milliseconds probe_timeout{100};
  int indirect_probes = 3;
  std::chrono::milliseconds suspicion_min{1000};
  std::chrono::milliseconds suspicion_max{3000};
  std::chrono::milliseconds sync_interval{1000};
  std::chrono::milliseconds join_timeout{1000};
  int retransmit_mult = 4;
  // Lifeguard's k: independent confirmations of a suspicion that shrink its timeout from
  // suspicion_max to suspicion_min (none expected, timeout = min, in swarms too small for k).
  int suspicion_confirmations = 2;
  // Scale suspicion_min/max by max(1, log10(members)), like memberlist's SuspicionMult.
  bool suspicion_scales_with_size = false;
  // Every gossip_interval, pending updates also go to gossip_nodes random members.
  std::chrono::milliseconds gossip_interval{100};
  int gossip_nodes = 3;
  // Reconnection, so that a swarm cut apart becomes one again: members declared dead are sent
  // this member's table, first reconnect_interval after their death, then at doubling
  // intervals up to reconnect_interval_max, for reconnect_timeout (Serf's reconnect_timeout);
  // the seeds are tried at reconnect_interval_max for as long as the member runs (every
  // reconnect_interval, doubling, while it is alone).
  std::chrono::milliseconds reconnect_interval{1000};
  std::chrono::milliseconds reconnect_interval_max{10000};
  std::chrono::milliseconds reconnect_timeout{std::chrono::hours(1)};

  // Presets. loopback: fast detection for peers on one machine; lan: like memberlist's LAN
  // defaults (1 s probes); wan: slower, tolerant of 100+ ms RTT. Expected detection of a
  // killed member, 10 members or fewer (first suspicion / dead), from their settings:
  //   loopback ~0.4 s / ~1.4 s;  lan ~2 s / ~6 s;  wan ~10 s / ~40 s
  // (docs/membership.md has the measured times).
  static MembershipTimings loopback();
  static MembershipTimings lan();
  static MembershipTimings wan();
  static MembershipTimings preset(const std::string& name);  // throws UserError
};

enum class MemberState { alive, suspect, dead, left };
const char* member_state_name(MemberState state);

struct MembershipEvent {
  enum class Kind { join, suspect, alive, dead, leave };
  Kind kind;
  Member member;
  std::uint64_t view_number = 0;  // the view after this event
};
const char* membership_event_name(MembershipEvent::Kind kind);

// Counters since construction (a snapshot).
struct MembershipStats {
  std::uint64_t messages_received = 0;  // membership messages taken from the transport
  std::uint64_t malformed_dropped = 0;  // undecodable or inconsistent ones, dropped
  std::uint64_t probes = 0;             // direct probes started
  std::uint64_t indirect_requests = 0;  // ping-reqs sent after a missed ack
  std::uint64_t suspicions_raised = 0;  // failed probes of this member
  std::uint64_t refutations = 0;        // incarnation bumps to refute a suspicion or death
  std::uint64_t sends_failed = 0;       // sends that timed out or found nobody
  std::uint64_t members_refused = 0;    // unknown members ignored because the table was full
};

class Membership {
 public:
  // `self` describes this peer (its address must be transport.address(), its id
  // transport.id()). `seeds` are addresses of members to join through (self is ignored).
  // An id of 0 or an empty address is taken from the transport; the incarnation starts at
  // max(self.incarnation, transport.incarnation()), so a restarted process (a newer transport
  // incarnation) outranks its old record. Throws UserError for a mismatched id or address, a
  // group label that is not 0..255 printable characters, or timings out of range.
  Membership(Transport& transport, Member self, std::vector<std::string> seeds,
             MembershipTimings timings);
  ~Membership();  // stops the thread (without announcing a leave)
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Starts the protocol thread; returns once joined through a seed or after join_timeout.
  // Returns whether a seed answered.
  bool start();
  // Announces a graceful leave to the members (best effort, bounded by `timeout`), then stops.
  void leave(std::chrono::milliseconds timeout);
  void stop();

  View view() const;
  // view() without its suspects, from the same snapshot (same number).
  View view_without_suspects() const;
  const Member& self() const;
  std::uint64_t incarnation() const;  // may grow by refutations
  // Waits at most `timeout` for a view whose number differs from `known`; returns the view.
  View wait_for_change(std::uint64_t known, std::chrono::milliseconds timeout) const;
  // Whether `id` is in the current view (alive or suspect).
  bool is_member(PeerId id) const;
  MemberState state_of(PeerId id) const;  // dead for unknown ids
  // Replaces what this member says of itself (Member::meta: at most 255 printable characters,
  // no spaces; UserError otherwise). The protocol thread publishes it within its next loop
  // (tens of milliseconds) as a newer version of this member's record, sent to a few members at
  // once and spread like every update.
  void set_meta(std::string meta);
  // The metadata member `id` published last, as far as this member knows ("" when unknown).
  std::string meta_of(PeerId id) const;
  // Registers a callback for every event; runs on the membership thread, must not block.
  void on_change(std::function<void(const MembershipEvent&)> callback);
  MembershipStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus
