#pragma once
// PeerExchange: what every gossip-family strategy (elastic-gossip, gossip, easgd, lsgd,
// downpour) shares on top of MergingStrategy's flow (merging_strategy.h: the overlapped merge,
// --overlap, exchange points, skipped points): its communication thread (GossipChannel),
// corrections that arrive late (late answers of earlier exchanges, queued by the channel
// thread and applied at the next step), dynamic weighting, round numbering, and the step
// counters its letters carry. Notes queued by other threads are written to the run log on the
// training thread (RunLog is single-threaded).
//
// Threads: the training thread (MergingStrategy's hooks, on_view), the channel thread (letter
// handlers, ticks), the merge thread (merge functions when --overlap >= 0). Derived strategies
// protect state shared between them with their own mutex, must call start() at the end of
// their constructor and shutdown() first thing in their destructor (so no thread runs into a
// half-destroyed object). Waits in merge functions use wait_for() style helpers that give up
// when shutdown begins or the peer waited on leaves the view.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "peers/exchange/dynamic_weights.h"
#include "peers/exchange/exchange_options.h"
#include "peers/exchange/merging_strategy.h"
#include "peers/exchange/readiness.h"
#include "peers/exchange/strategy.h"
#include "peers/gossip/gossip_channel.h"
#include "peers/gossip/mailbox.h"
#include "topology/graph.h"

namespace chorus::gossip {

// Round numbers that peers advance together without a coordinator: each exchange point takes
// the next round, unless letters show the others are `jump` or more rounds ahead, in which
// case it joins them at the highest round seen (a peer restarted from an old checkpoint, or
// one that fell behind, catches up instead of never meeting anyone).
class RoundClock {
 public:
  // The jump for a strategy that exchanges every `tau` steps (or, with a probability p > 0,
  // at any step) with overlap S: 3 rounds, plus the rounds an overlapped merge may
  // legitimately lag behind (S steps, at one round every tau steps, or every step with p).
  static std::uint64_t jump_for(int tau, float p, int overlap);
  explicit RoundClock(std::uint64_t jump = 3) : jump_(jump) {}
  void saw(std::uint64_t round);      // any thread
  std::uint64_t next();               // the training thread
  std::uint64_t current() const { return current_.load(); }
  std::uint64_t highest_seen() const { return seen_.load(); }
  // How far ahead others may be before this peer joins them (rounds).
  std::uint64_t jump() const { return jump_; }

 private:
  const std::uint64_t jump_;
  std::atomic<std::uint64_t> current_{0};
  std::atomic<std::uint64_t> seen_{0};
};

// Early answers (elastic-gossip, pull gossip with --overlap >= 1) go to rounds at most this
// many round-clock jumps ahead of the answering peer, so a member cannot make it answer for
// rounds without end. Generous: a training thread kept off the CPU for a while (nice 19 on
// shared cores) falls many rounds behind before its next exchange point lets it catch up, and
// a tighter bound left its partners waiting for rounds it would not answer early
// (docs/gossip.md, "Early answers", has the measurements).
inline constexpr std::uint64_t kEarlyRoundsAhead = 16;

class PeerExchange : public MergingStrategy {
 public:
  ~PeerExchange() override;
  bool wait_until_ready(const View& view, std::chrono::milliseconds timeout) override;

  // For tests and diagnostics: the channel, and a strategy-specific summary of its state
  // (leader, round, shards held, ...). diagnostics() is thread-safe.
  GossipChannel& channel() { return channel_; }
  virtual nlohmann::json diagnostics() const { return nlohmann::json::object(); }
  std::int64_t current_step() const { return step_.load(); }

 protected:
  PeerExchange(PeerServices& services, const MergeOptions& merge);
  void start();
  void shutdown();

  // Called after every optimizer step, once this peer's step counters are updated, before
  // anything else (training thread).
  virtual void on_step(std::int64_t step) { (void)step; }

  PeerServices& services() { return services_; }
  const ExchangeTimings& timings() const { return timings_; }
  PeerId self_id() const { return self_id_; }
  std::int64_t since_start() const { return since_start_.load(); }
  bool stopping() const { return stopping_.load(); }
  // Whether `id` is in the view and this strategy is not shutting down.
  bool alive(PeerId id) const;
  View view() const { return services_.membership.view(); }
  // A head filled with this peer's step, steps since start and view number.
  LetterHead head(std::uint16_t kind, std::uint64_t round = 0) const;
  Mailbox::Clock::time_point deadline() const { return Mailbox::Clock::now() + timings_.exchange_timeout; }
  // Whether `id` runs its strategy (GossipChannel::started).
  bool started(PeerId id) const;
  // The deadline for an answer from `peer`: the exchange timeout, or the first-contact timeout
  // while it has not started its strategy.
  Mailbox::Clock::time_point deadline(PeerId peer) const;

  bool dynamic() const { return dynamic_weights_; }
  const DynamicWeightConfig& weight_config() const { return weights_; }
  Contribution own_contribution() const { return {current_step(), since_start(), 0.0}; }
  static Contribution contribution_of(const Letter& l);

  // Queues params[offset + k] += scale * delta[k] for the next after_update (any thread).
  void add_correction(std::size_t offset, std::span<const float> delta, float scale);
  // Writes a log event from the training thread, or queues it from another.
  void note(const std::string& event, nlohmann::json fields) { channel_.note(event, std::move(fields)); }

 private:
  void every_step(std::int64_t step) final;
  bool has_queued() final;
  bool apply_queued(std::span<float> params) final;
  void after_step() final { flush_notes(); }
  void finished() final { flush_notes(); }
  void flush_notes();

  PeerServices& services_;
  const ExchangeTimings timings_;
  const bool dynamic_weights_;
  const PeerId self_id_;
  DynamicWeightConfig weights_;
  GossipChannel channel_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> step_{0};
  std::atomic<std::int64_t> since_start_{0};
  std::mutex correction_mutex_;
  std::vector<float> correction_;
  bool has_correction_ = false;
};

// PeerExchange with the strategy's own option struct (strategy_registry.h), readable as
// options() from the strategy's member initializers on.
template <typename Options>
class PeerExchangeOf : public PeerExchange {
 protected:
  PeerExchangeOf(PeerServices& services, const Options& options)
      : PeerExchange(services, options.merge), options_(options) {}
  const Options& options() const { return options_; }

 private:
  const Options options_;
};

}  // namespace chorus::gossip

namespace chorus::gossip {

// The graph named by --graph: a built-in name (graph_names()), or else a path to an edge-list
// file (the `file` graph). Throws UserError as make_graph does.
std::unique_ptr<Graph> graph_from_option(const std::string& graph);
// Declares --graph (checked by building the graph when set).
void declare_graph_option(OptionSet& set, std::string& graph);
// Declares --tau, the steps between exchanges.
void declare_tau_option(OptionSet& set, int& tau);

// The member with this id in `view`, or null.
const Member* find_member(const View& view, PeerId id);

}  // namespace chorus::gossip
