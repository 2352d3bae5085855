#pragma once
// GossipChannel: the communication thread of a gossip-family strategy. It receives every
// msg::kGossip message of the transport (and nothing else), reassembles letters (letter.h),
// and hands each complete letter to the handler registered for its kind; it also runs tasks
// posted to it and a periodic tick. Strategies answer requests from here (partner exchanges,
// center shards, leader fetches, store requests) while their training thread is busy.
//
// Threading: handlers, ticks and posted tasks run on the channel thread, one at a time; they
// must not wait on the training thread, and every send they make is bounded by its timeout.
// send(), post(), note() and take_notes() may be called from any thread. Register handlers and
// ticks before start(). stop() joins the thread (bounded: each receive waits at most one
// tick); it is idempotent and the destructor calls it.
// Accounting: bytes of every letter sent or received are added to CommStats::bytes_sent /
// bytes_recv (head and values).
// Errors: malformed messages (bad head, chunks that do not fit their letter, unknown kinds)
// are dropped and counted; an exception from a handler is caught, counted and noted, and
// the thread goes on. RunLog is not thread-safe, so the channel never writes it: note()
// queues a log event that the training thread writes (take_notes()).
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "peers/exchange/comm_stats.h"
#include "peers/exchange/exchange_timings.h"
#include "peers/exchange/strategy.h"
#include "peers/membership/membership.h"
#include "peers/gossip/letter.h"
#include "peers/gossip/letter_kinds.h"

namespace chorus::gossip {

struct ChannelCounters {
  std::uint64_t letters_received = 0;
  std::uint64_t malformed = 0;        // undecodable heads, ill-fitting chunks
  std::uint64_t unknown_kind = 0;
  std::uint64_t handler_errors = 0;
  std::uint64_t expired = 0;          // partial letters dropped after letter_ttl
  std::uint64_t send_failures = 0;
};

class GossipChannel {
 public:
  using Handler = std::function<void(Letter&&)>;

  // Letters of more than `max_values` floats are refused (malformed) before any allocation.
  GossipChannel(Transport& transport, CommStats& stats, ExchangeTimings timings = {},
                std::size_t max_values = std::size_t{1} << 26);
  ~GossipChannel();
  GossipChannel(const GossipChannel&) = delete;
  GossipChannel& operator=(const GossipChannel&) = delete;

  void on(std::uint16_t kind, Handler handler);
  void on_tick(std::function<void()> tick);
  void start();
  void stop();

  // Sends a letter: head.id is assigned when 0, head.count is set to values.size(). Waits at
  // most `timeout` in all (for room, and for the transport to be done with `values`). Returns
  // whether the transport took all of it. A destination whose last letter timed out is waited
  // for kStalledWait at most until a letter to it goes through again: a peer cut off by the
  // network (until membership drops it) costs one timeout, not one per letter, and the thread
  // keeps serving the others.
  bool send(const std::string& to, LetterHead head, std::span<const float> values,
            std::chrono::milliseconds timeout);
  bool send(const std::string& to, LetterHead head, std::span<const float> values) {
    return send(to, head, values, timings_.send_timeout);
  }
  std::uint64_t next_id() { return next_id_.fetch_add(1); }

  void post(std::function<void()> task);

  void note(std::string event, nlohmann::json fields);
  std::vector<std::pair<std::string, nlohmann::json>> take_notes();

  // When a letter from `id` last arrived (now_s() time base); nullopt if never.
  std::optional<double> last_heard(PeerId id) const;
  // Whether `id` runs its strategy: it said so through membership (readiness.h), or a letter
  // from it arrived. Any thread.
  bool started(PeerId id, const Membership& membership) const;

  Transport& transport() { return transport_; }
  const ExchangeTimings& timings() const { return timings_; }
  ChannelCounters counters() const;
  // Seconds on the steady clock (the time base of Letter::received_s).
  static double now_s();

 private:
  struct Partial {
    bool has_head = false;
    LetterHead head;
    std::vector<float> values;
    std::vector<bool> chunks;
    std::size_t chunks_seen = 0;
    std::uint64_t total = 0;
    double started_s = 0;
  };
  using Key = std::tuple<std::string, std::uint64_t, std::uint64_t>;  // from, incarnation, id

  void run();
  void handle(ReceivedMessage&& m);
  void complete(const Key& key, Partial&& p, const ReceivedMessage& m);
  void dispatch(Letter&& letter);
  void expire();

  Transport& transport_;
  CommStats& stats_;
  const ExchangeTimings timings_;
  const std::size_t max_values_;
  std::map<std::uint16_t, Handler> handlers_;
  std::vector<std::function<void()>> ticks_;
  std::map<Key, Partial> partial_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> next_id_{1};

  static constexpr std::chrono::milliseconds kStalledWait{5};

  mutable std::mutex mutex_;  // tasks_, notes_, counters_, heard_, stalled_
  std::set<std::string> stalled_;  // destinations whose last letter timed out
  std::map<PeerId, double> heard_;
  std::vector<std::function<void()>> tasks_;
  std::vector<std::pair<std::string, nlohmann::json>> notes_;
  ChannelCounters counters_;
};

}  // namespace chorus::gossip
