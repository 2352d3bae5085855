// `lsgd` (Leader SGD): every τ steps each peer pulls towards the leader, the peer with the
// lowest recent training loss:   x_i ← x_i − λ (x_i − x_L)   (after its own SGD step; the
// leader itself is not pulled). Only the leader's parameters travel.
// Multi-leader: when the --groups rule splits the view into two or more groups, each group has
// a local leader l_g and the swarm a global leader L:
//     x_i ← x_i − λ_l (x_i − x_{l_g}) − λ_G (x_i − x_L)
// (a group leader that is not L pulls only towards L with λ_G; L is not pulled).
// With --dynamic-weights the pull towards a leader is scaled by min(1, c_leader / c_self)
// (currencies from steps behind and steps since restart).
//
// Protocol. Election (leader_board.h): every τ steps a peer broadcasts a loss report (round e,
// its loss as a moving average, step, incarnation) and adopts the ranking of round e−2 once
// every started member of the view has reported it (a report known to be on its way is waited
// for, briefly); until then the previous ranking stays, or on a slow network the newest
// complete round kept. The leader is the first ranked member in the current view, so when it
// dies every peer moves to the next-lowest as soon as membership drops it. Fetch: every peer
// publishes a copy of its parameters at each exchange point; a fetch (kLeaderFetch) is
// answered at once from that copy by the channel thread, or with no values when the fetcher
// has pulled towards that copy already.
//
// Threading: on_step/exchange on the training thread; the election wait, fetches and pull
// run on the merge thread with --overlap S >= 0 (x ← x̄ + (x − s)), else inline; reports and
// fetches are handled on the channel thread. Waits are bounded (ExchangeTimings::exchange_timeout)
// and give up on a leader as soon as it leaves the view.
//
// Why this election and fetch, and how the defaults (τ 1, λ 0.15) were chosen: docs/gossip.md,
// "lsgd".
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/gossip/leader_board.h"
#include "peers/gossip/peer_exchange.h"
#include "topology/groups.h"

namespace chorus {
namespace {

using namespace gossip;

// A short memory (about two steps): the leader follows who is best now, so leadership moves
// between the peers (and their shards) more often, which trained better than longer memories
// (docs/gossip.md, "lsgd", has the measurements).
constexpr double kLossSmoothing = 0.5;
// Election rounds whose reports are kept; a peer that jumps ahead reports for as many of the
// rounds it skipped, so that every election it could have taken part in has its report.
constexpr std::uint64_t kRoundsKept = 64;  // rounds of loss reports kept: enough for a slow network

struct Snapshot {
  std::int64_t step = 0;
  std::int64_t since_start = 0;
  std::vector<float> values;
};

struct LsgdOptions {
  float lambda = 0.15f;
  float lambda_local = 0.1f, lambda_global = 0.05f;
  int tau = 1;
  std::string groups = "host";
  MergeOptions merge;
  void declare(OptionSet& set) {
    set.real("lambda", lambda, "Pull strength towards the leader", Interval::closed(0, 1));
    set.real("lambda-local", lambda_local, "With groups: pull towards the group leader", Interval::closed(0, 1));
    set.real("lambda-global", lambda_global, "With groups: pull towards the global leader", Interval::closed(0, 1));
    declare_tau_option(set, tau);
    declare_groups_option(set, groups);
    merge.declare(set);
  }
  void check() const {
    if (lambda_local + lambda_global > 1) throw UserError("--lambda-local plus --lambda-global must be at most 1");
  }
};

class LsgdStrategy final : public PeerExchangeOf<LsgdOptions> {
 public:
  LsgdStrategy(PeerServices& services, const LsgdOptions& o)
      : PeerExchangeOf(services, o), rule_(parse_group_rule(o.groups)), mailbox_(16) {
    publish(services.params.pull(), 0);
    channel().on(kLossReport, [this](Letter&& l) {
      clock_.saw(l.head.round);
      board_.record({l.from_id, l.head.round, l.head.value, l.head.step, l.incarnation});
    });
    channel().on(kLeaderFetch, [this](Letter&& l) { serve_fetch(l); });
    channel().on(kLeaderParams, [this](Letter&& l) {
      const std::uint64_t key = l.head.ref;
      mailbox_.put(std::move(l), key);
    });
    start();
  }
  ~LsgdStrategy() override {
    mailbox_.close();
    shutdown();
  }

  nlohmann::json diagnostics() const override {
    const auto leader = board_.leader(view());
    std::lock_guard lock(mutex_);
    return {{"leader", leader ? nlohmann::json(*leader) : nlohmann::json()},
            {"round", clock_.current()},
            {"adopted_round", board_.adopted_round() ? nlohmann::json(*board_.adopted_round()) : nlohmann::json()},
            {"ranked", board_.adopted().size()},
            {"loss", ema_},
            {"pulls", pulls_}};
  }

 protected:
  void on_step(std::int64_t) override {
    const double loss = services().model.last_loss();
    if (!std::isfinite(loss)) return;
    std::lock_guard lock(mutex_);
    ema_ = has_ema_ ? kLossSmoothing * ema_ + (1 - kLossSmoothing) * loss : loss;
    has_ema_ = true;
  }

  bool due(std::int64_t step) override { return step % options().tau == 0; }

  bool skip(std::int64_t step, std::span<float> params) override {
    // The previous pull is still running: publish and report (elections go on), no new pull.
    const std::uint64_t prev = clock_.current();
    const std::uint64_t round = clock_.next();
    publish(params, step);
    report(round > prev + 1 ? std::max(prev + 1, round > kRoundsKept ? round - kRoundsKept : 0) : round, round);
    return false;
  }

  bool exchange(std::int64_t step, std::span<float> params) override {
    const std::uint64_t prev = clock_.current();
    const std::uint64_t round = clock_.next();
    publish(params, step);
    report(round > prev + 1 ? std::max(prev + 1, round > kRoundsKept ? round - kRoundsKept : 0) : round, round);
    return merge().begin(params, step, [this, round](std::vector<float>& s) { return leader_round(s, round); });
  }

 private:
  void publish(std::span<const float> params, std::int64_t step) {
    auto snap = std::make_shared<Snapshot>();
    snap->step = step;
    snap->since_start = since_start();
    snap->values.assign(params.begin(), params.end());
    std::lock_guard lock(mutex_);
    published_ = std::move(snap);
  }

  // Reports this peer's loss for rounds first..last (several when it has just caught up, so
  // the others' elections of the rounds it skipped still hear from it).
  void report(std::uint64_t first, std::uint64_t last) {
    double loss;
    {
      std::lock_guard lock(mutex_);
      if (!has_ema_) return;
      loss = ema_;
    }
    const View v = view();
    for (std::uint64_t r = first; r <= last; ++r) {
      board_.record({self_id(), r, loss, current_step(), services().transport.incarnation()});
      LetterHead h = head(kLossReport, r);
      h.value = loss;
      for (const auto& m : v.members)
        if (m.id != self_id()) {
          const std::string to = m.address;
          channel().post([this, to, h] { channel().send(to, h, {}, std::chrono::milliseconds(200)); });
        }
    }
  }

  void serve_fetch(const Letter& l) {
    std::shared_ptr<const Snapshot> snap;
    {
      std::lock_guard lock(mutex_);
      snap = published_;
    }
    if (!snap) return;
    LetterHead h;
    h.kind = kLeaderParams;
    h.ref = l.head.id;
    h.step = snap->step;
    h.since_start = snap->since_start;
    // The fetcher has pulled towards this copy already: say so instead of sending it again.
    const bool already_pulled =
        l.head.fetch.pulled && l.head.fetch.incarnation == services().transport.incarnation() &&
        snap->step <= l.head.step;
    channel().send(l.from, h, already_pulled ? std::span<const float>{} : std::span<const float>(snap->values));
  }

  // The leader's newest published copy, or nothing: no answer in time, the leader left, or the
  // copy is the one this peer pulled towards last time (a leader that has not stepped since —
  // evaluating, descheduled, stalled — is not pulled towards again: repeated pulls to one
  // frozen point would draw the whole swarm back onto it).
  std::optional<Letter> fetch(const View& v, PeerId leader) {
    const Member* m = find_member(v, leader);
    if (!m) return std::nullopt;
    LetterHead h = head(kLeaderFetch);
    h.id = channel().next_id();
    if (const auto it = pulled_.find(leader); it != pulled_.end()) {
      h.fetch.pulled = true;
      h.fetch.incarnation = it->second.incarnation;
      h.step = it->second.step;
    }
    if (!channel().send(m->address, h, {})) return std::nullopt;
    auto l = mailbox_.wait({kLeaderParams}, leader, h.id, deadline(leader), timings().poll, [&] { return !alive(leader); });
    if (!l || l->values.size() != services().model.size()) return std::nullopt;
    pulled_[leader] = {l->incarnation, l->head.step};
    return l;
  }

  float rate(float lambda, const Letter& from_leader) const {
    if (!dynamic()) return lambda;
    const Contribution me = own_contribution();
    const Contribution them{from_leader.head.step, from_leader.head.since_start, 0.0};
    const std::int64_t newest = std::max(me.step, them.step);
    const double ratio = currency(them, newest, weight_config()) / currency(me, newest, weight_config());
    return static_cast<float>(lambda * std::min(1.0, ratio));
  }

  bool leader_round(std::vector<float>& s, std::uint64_t round) {
    if (round < 3) return false;  // reports start at round 1
    const std::uint64_t election = round - 2;
    // The ranking of the election round is adopted only when it is complete: every member
    // of the view that has started its strategy has reported. Reports of that round were sent
    // 2τ steps ago, so normally they all are here; a report known to exist (its sender has
    // reported a later round) but not arrived yet is waited for, briefly. Otherwise the
    // previous ranking stays — so peers never adopt rankings that leave out different members.
    const auto until = Mailbox::Clock::now() + std::min<std::chrono::milliseconds>(
                                                   timings().exchange_timeout, std::chrono::milliseconds(50));
    // Complete: every member that runs its strategy has reported round e; `waiting` when one of them has
    // reported a later round already (its report for e is on its way).
    auto complete = [&](std::uint64_t e, bool* waiting) {
      const View v = view();
      bool all = true;
      for (PeerId id : board_.missing(e, v)) {
        if (id == self_id() || !started(id)) continue;
        all = false;
        const auto latest = board_.latest_round(id);
        if (waiting && latest && *latest > e) *waiting = true;
      }
      return all;
    };
    for (;;) {
      bool waiting = false;
      if (complete(election, &waiting)) {
        board_.adopt(election);
        break;
      }
      if (!waiting || stopping() || Mailbox::Clock::now() >= until) {
        // On a slow network reports take many rounds to arrive: adopt the newest complete
        // round that is newer than the ranking held, so a leader is still elected.
        const auto held = board_.adopted_round();
        for (std::uint64_t e = election - 1; e >= 1 && e + kRoundsKept > round && (!held || e > *held); --e)
          if (complete(e, nullptr)) {
            board_.adopt(e);
            break;
          }
        break;
      }
      std::this_thread::sleep_for(timings().poll);
    }
    const View v = view();
    if (v.index_of(self_id()) < 0) return false;
    const auto global = board_.leader(v);
    if (global && global != last_leader_) {
      last_leader_ = global;
      note("leader", {{"leader", fmt::format("{:016x}", *global)}, {"round", round}});
    }
    if (!global || *global == self_id()) return false;
    std::optional<PeerId> local;
    const auto groups = make_groups(v, rule_);
    const bool multi = groups.size() >= 2;
    if (multi) {
      const Group& g = groups[group_of(groups, static_cast<std::size_t>(v.index_of(self_id())))];
      std::set<PeerId> ids;
      for (std::size_t i : g.members) ids.insert(v.members[i].id);
      local = board_.leader(v, &ids);
    }
    const auto& o = options();
    bool changed = false;
    if (!local) {
      // One group (or nobody of this group ranked yet): the single leader.
      auto xl = fetch(v, *global);
      if (!xl) return false;
      const float lambda = rate(multi ? o.lambda_global : o.lambda, *xl);
      for (std::size_t k = 0; k < s.size(); ++k) s[k] = s[k] - lambda * (s[k] - xl->values[k]);
      changed = true;
    } else if (*local == self_id() || *local == *global) {
      // A group leader pulls only towards the global leader; the members of L's group pull
      // towards L with both rates.
      auto xl = fetch(v, *global);
      if (!xl) return false;
      const float lg = rate(o.lambda_global, *xl);
      const float ll = *local == self_id() ? 0.0f : rate(o.lambda_local, *xl);
      for (std::size_t k = 0; k < s.size(); ++k) s[k] = s[k] - ll * (s[k] - xl->values[k]) - lg * (s[k] - xl->values[k]);
      changed = true;
    } else {
      auto xg = fetch(v, *global);
      auto xl = fetch(v, *local);
      if (!xg && !xl) return false;
      const float lg = xg ? rate(o.lambda_global, *xg) : 0.0f;
      const float ll = xl ? rate(o.lambda_local, *xl) : 0.0f;
      for (std::size_t k = 0; k < s.size(); ++k) {
        const float pl = xl ? ll * (s[k] - xl->values[k]) : 0.0f;
        const float pg = xg ? lg * (s[k] - xg->values[k]) : 0.0f;
        s[k] = s[k] - pl - pg;
      }
      changed = true;
    }
    std::lock_guard lock(mutex_);
    ++pulls_;
    return changed;
  }

  GroupRule rule_;
  LeaderBoard board_{kRoundsKept};
  RoundClock clock_{RoundClock::jump_for(options().tau, 0, options().merge.overlap)};
  Mailbox mailbox_;
  mutable std::mutex mutex_;  // ema_, published_, pulls_
  double ema_ = 0;
  bool has_ema_ = false;
  std::shared_ptr<const Snapshot> published_;
  std::uint64_t pulls_ = 0;
  std::optional<PeerId> last_leader_;  // merge thread only
  struct PulledCopy {
    std::uint64_t incarnation = 0;
    std::int64_t step = 0;
  };
  std::map<PeerId, PulledCopy> pulled_;  // the copy last pulled towards, per leader (merge thread only)
};

const bool registered = register_strategy<LsgdStrategy, LsgdOptions>(
    {"lsgd", "leader", "pull towards the lowest-loss peer, with group and global leaders (LSGD)", 70});

}  // namespace
}  // namespace chorus
