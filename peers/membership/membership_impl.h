#pragma once
// Membership::Impl: the state of one member and the protocol thread that runs it.
//
// Split by concern over several files: membership.cpp (the public methods, the thread and its
// timer loop), facts.cpp (learning a fact: the table, suspicions, refutation, events),
// messages.cpp (sending and receiving: codec, piggybacking, join, sync, gossip, leave),
// probe.cpp (the probe cycle: ping, ping-req, relays, suspicion of an unresponsive member),
// reconnect.cpp (trying the dead and the seeds again, so that a swarm cut apart heals).
//
// Locking: `mutex` guards the table, the joined flag, the callbacks and the counters, which
// callers read; only the protocol thread writes the table, so it reads it without the lock.
// Everything under "protocol thread only" is touched by that thread alone (and by leave()'s
// final steps, which run on it too).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "peers/membership/broadcast_queue.h"
#include "peers/membership/codec.h"
#include "peers/membership/member_table.h"
#include "peers/membership/membership.h"
#include "peers/membership/probe_order.h"
#include "peers/membership/suspicion.h"

namespace chorus {

struct Membership::Impl {
  using Clock = std::chrono::steady_clock;
  using MemberRecord = membership::MemberRecord;

  Impl(Transport& transport, Member self, std::vector<std::string> seeds, MembershipTimings timings);

  // --- fixed at construction
  Transport& transport;
  const MembershipTimings timings;
  const Member self_member;        // as constructed; self() returns it
  const PeerId self_id;
  const std::vector<std::string> seeds;  // without our own address, duplicates removed
  const std::chrono::milliseconds send_wait;

  // --- shared with callers, under `mutex`
  mutable std::mutex mutex;
  mutable std::condition_variable changed;  // the table or `joined` changed, or the thread ended
  membership::MemberTable table{membership::kMaxRecords};
  std::vector<std::function<void(const MembershipEvent&)>> callbacks;
  MembershipStats counters;
  bool joined = false;
  std::optional<std::string> pending_meta;  // set_meta's, for the protocol thread to publish
  std::atomic<std::uint64_t> incarnation{0};

  // --- lifecycle (callers), under `lifecycle`
  std::mutex lifecycle;
  std::thread thread;
  bool started = false;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> leave_requested{false};
  std::chrono::milliseconds leave_timeout{0};

  // --- protocol thread only
  struct Probe {
    PeerId target = 0;
    std::uint64_t incarnation = 0;  // of the target when the probe started
    std::string address;
    std::uint64_t sequence = 0;
    Clock::time_point started;
    bool acked = false;
    bool indirect_sent = false;
  };
  struct Relay {  // a ping sent for another member's ping-req
    std::string requester;
    std::uint64_t requester_sequence = 0;
    PeerId target = 0;
    Clock::time_point expires;
  };
  membership::BroadcastQueue broadcasts;
  membership::ProbeOrder probe_order;
  std::mt19937_64 rng;
  std::optional<Probe> probe;
  std::unordered_map<std::uint64_t, Relay> relays;
  std::unordered_map<PeerId, membership::Suspicion> suspicions;
  std::unordered_map<PeerId, Clock::time_point> last_told;  // when we last corrected a member
  std::vector<MembershipEvent> events;  // to hand to the callbacks
  std::uint64_t next_sequence = 1;
  Clock::time_point next_probe, next_gossip, next_sync, next_join, join_phase_end;
  Clock::time_point last_loop, grace_until;
  // Time the loop spent blocked in its own sends and waiting for messages since last_loop:
  // what a stall check must not count (only time unaccounted for means a stopped process).
  Clock::duration accounted{};
  std::size_t next_seed = 0;
  bool leaving = false;
  // A member declared dead, tried again at `next` (the interval doubling) until `until`.
  struct Reconnect {
    Clock::time_point next, until;
    Clock::duration interval{};
  };
  std::unordered_map<PeerId, Reconnect> reconnects;
  Clock::time_point next_seed_try;
  Clock::duration seed_interval{};  // while alone: doubles from reconnect_interval
  bool refuted_death = false;       // set by refute() of a death: tell the one who said so

  // membership.cpp
  void run();
  void run_timers(Clock::time_point now);
  Clock::time_point next_deadline(Clock::time_point now) const;
  void dispatch_events();
  void count(std::uint64_t MembershipStats::*field, std::uint64_t n = 1);
  const MemberRecord& own() const { return *table.find(self_id); }

  // facts.cpp
  void learn(const MemberRecord& fact, bool from_its_subject);
  void learn_about_self(const MemberRecord& fact);
  void refute(const MemberRecord& fact);
  std::optional<membership::TableChange> apply(const MemberRecord& fact);
  void after_change(const membership::TableChange& change);
  void expire_suspicions(Clock::time_point now);
  void publish_meta();

  // messages.cpp
  // Fills in our own record, encodes and sends, waiting at most `wait` (send_wait by default).
  bool send(const std::string& to, membership::Message& message,
            std::optional<std::chrono::milliseconds> wait = std::nullopt);
  void piggyback(membership::Message& message);
  void handle(const ReceivedMessage& received);
  void correct(const MemberRecord& sender, const MemberRecord& ours);
  void gossip_tick();
  void sync_tick();
  void join_tick(Clock::time_point now);
  void send_leave();
  void send_join(const std::string& to, std::optional<std::chrono::milliseconds> wait = std::nullopt);
  std::vector<const MemberRecord*> random_members(std::size_t count, PeerId exclude, bool alive_only);

  // reconnect.cpp
  void reconnect_tick(Clock::time_point now);
  // Starts or stops trying a member again as its record changes (from after_change).
  void follow_for_reconnect(const membership::TableChange& change);

  // probe.cpp
  void probe_tick(Clock::time_point now);
  void probe_timeout_check(Clock::time_point now);
  void conclude_probe();
  void on_ping(const ReceivedMessage& received, const membership::Message& ping);
  void on_ack(const ReceivedMessage& received, const membership::Message& ack);
  void on_ping_req(const ReceivedMessage& received, const membership::Message& request);
  void expire_relays(Clock::time_point now);
};

}  // namespace chorus
