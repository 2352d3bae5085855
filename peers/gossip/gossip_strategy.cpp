// `gossip` (Gossiping SGD): every τ steps (--tau 1: after every local step) each peer mixes its
// parameters with its neighbours' in the topology graph of that round (--graph).
//
// --gossip pull  x_i ← Σ_j W_ij x_j over i and the members that send to i this round, W the
//                graph's mixing matrix (topology_metrics.h: Metropolis weights; on the directed
//                exponential graph x_i ← (x_i + x_j)/2), every peer using its round-r value.
//                Each peer sends its round-r snapshot to the members that pull from it and
//                waits, bounded, for its own in-neighbours; a neighbour that leaves the view or
//                does not answer in time is left out, its weight staying on this peer's own
//                value; a value arriving too late is refused. With --dynamic-weights each W_ij
//                is scaled by the sender's currency (dynamic_weights.h), the row renormalized.
// --gossip push  Push-sum: each peer holds (x, w), its parameters the estimate z = x/w. Every
//                round it sends half of (x, w) to one out-neighbour (picked by the round's
//                seed), keeps half, and adds every share received since its last round. Nothing
//                waits (so --overlap is ignored). Shares go only to peers that have started
//                their strategy (readiness.h). With --dynamic-weights a received share is scaled
//                by its sender's currency.
//
// A value for a round this peer has passed (or skipped) is answered with an empty value of
// that round, so its sender stops waiting for this peer and averages without it.
// Early answers (pull, --overlap S >= 1, an edge that goes both ways that round, a round at
// most kEarlyRoundsAhead round-clock jumps ahead): a neighbour's value for a round this peer
// has not reached is answered at once from the channel thread with the published snapshot v;
// the neighbour averages with v, this peer adds w (x_i − v) now (w the edge's weight, scaled by
// the sender's currency with --dynamic-weights), and at the round it neither sends that
// neighbour its value nor takes one from it.
//
// Threading: exchange() on the training thread; a pull round runs on the merge thread with
// --overlap S >= 0 (x ← x̄ + (x − s); an exchange point reached while one still runs is
// skipped, its value still sent to those who pull from this peer), else inline; received
// values and shares are filed by the channel thread under mutex_. Waits are bounded by
// ExchangeTimings::exchange_timeout and skip a neighbour as soon as it leaves the view.
//
// Why edges left out and early answers keep the sum of all parameters: docs/gossip.md, "gossip"
// and "Early answers".
#include <Eigen/Dense>
#include <cmath>
#include <set>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/gossip/peer_exchange.h"
#include "peers/gossip/published_snapshot.h"
#include "topology/graph.h"
#include "topology/hash_order.h"
#include "topology/topology_metrics.h"

namespace chorus {
namespace {

using namespace gossip;

struct GossipOptions {
  std::string gossip = "pull";
  int tau = 4;
  std::string graph = "ring";
  MergeOptions merge;
  void declare(OptionSet& set) {
    set.choice("gossip", gossip, "pull (average the neighbours' values) or push (push-sum)", {"pull", "push"});
    declare_tau_option(set, tau);
    declare_graph_option(set, graph);
    merge.declare(set);
  }
  void check() const {}
};

class GossipStrategy final : public PeerExchangeOf<GossipOptions> {
 public:
  GossipStrategy(PeerServices& services, const GossipOptions& o)
      : PeerExchangeOf(services, o), graph_(graph_from_option(o.graph)), mailbox_(64) {
    push_ = o.gossip == "push";
    channel().on(kPullValue, [this](Letter&& l) { on_value(std::move(l)); });
    channel().on(kPushShare, [this](Letter&& l) { on_share(std::move(l)); });
    early_ = o.gossip == "pull" && o.merge.overlap >= 1 && !graph_->directed();
    start();
  }
  ~GossipStrategy() override { shutdown(); }

  nlohmann::json diagnostics() const override {
    std::lock_guard lock(mutex_);
    return {{"round", clock_.current()},
            {"mode", push_ ? "push" : "pull"},
            {"weight", weight_},
            {"inbox_weight", inbox_weight_},
            {"late", late_},
            {"missing", missing_},
            {"answered_early", answered_early_}};
  }

 protected:
  bool due(std::int64_t step) override { return step % options().tau == 0; }

  bool skip(std::int64_t, std::span<float> params) override {
    // Only pull rounds run as overlapped merges. Take the round without averaging, and tell the
    // members that pull from this peer that no value comes (an empty one), so they do not wait
    // and leave this edge out as this peer does: the sum of all parameters is kept.
    const std::uint64_t round = clock_.next();
    const View v = view();
    const int self = v.index_of(self_id());
    std::set<PeerId> answered;
    {
      std::lock_guard lock(mutex_);
      processed_ = round;
      if (early_) published_.set(params);
      answered = take_answered_locked(round);
    }
    drop_stale(round);
    if (self < 0 || v.size() < 2) return false;
    const Adjacency edges = graph_->round_edges(v, round);
    LetterHead h = head(kPullValue, round);
    for (std::size_t j : edges[static_cast<std::size_t>(self)]) {
      if (answered.count(v.members[j].id)) continue;
      const std::string to = v.members[j].address;
      channel().post([this, to, h] { channel().send(to, h, {}, std::chrono::milliseconds(200)); });
    }
    return false;
  }

  bool exchange(std::int64_t step, std::span<float> params) override {
    const std::uint64_t round = clock_.next();
    const View v = view();
    const int self = v.index_of(self_id());
    if (push_) return push_round(round, v, self, params);
    if (self < 0 || v.size() < 2) {
      drop_stale(round);
      return false;
    }
    const Adjacency edges = graph_->round_edges(v, round);
    const Eigen::MatrixXd w = mixing_matrix(edges, graph_->directed());
    std::set<PeerId> answered;
    {
      std::lock_guard lock(mutex_);
      active_.insert(round);
      processed_ = round;
      if (early_) published_.set(params);
      answered = take_answered_locked(round);
    }
    // Edges answered early are done: their weight stays on this peer's own value.
    double self_weight = w(self, self);
    std::vector<Source> sources;
    for (std::size_t j = 0; j < v.size(); ++j) {
      const double wj = w(self, static_cast<Eigen::Index>(j));
      if (static_cast<int>(j) == self || wj <= 0) continue;
      if (answered.count(v.members[j].id)) self_weight += wj;
      else sources.push_back({v.members[j].id, wj});
    }
    std::vector<std::string> targets;
    for (std::size_t j : edges[static_cast<std::size_t>(self)])
      if (!answered.count(v.members[j].id)) targets.push_back(v.members[j].address);
    drop_stale(round);
    return merge().begin(params, step, [this, round, sources, targets, self_weight](std::vector<float>& s) {
      return pull_round(s, round, sources, targets, self_weight);
    });
  }

 private:
  struct Source {
    PeerId id;
    double weight;
  };

  // The members answered early for `round` (removed from the record, with every older round's).
  // Caller holds mutex_.
  std::set<PeerId> take_answered_locked(std::uint64_t round) {
    std::set<PeerId> out;
    for (auto it = answered_.begin(); it != answered_.end() && it->first <= round;) {
      if (it->first == round) out.insert(it->second);
      it = answered_.erase(it);
    }
    return out;
  }

  // Whether the value `l`, for a round this peer has not reached, can be answered early: at
  // most kEarlyRoundsAhead round-clock jumps ahead (a member cannot make this peer answer for
  // rounds without end), and the edge between the sender and this peer goes both ways in
  // that round of this peer's view. Returns the edge's weight (0: no). Caller holds mutex_.
  double early_weight_locked(const Letter& l) const {
    if (!early_ || !published_.fits(l.values.size())) return 0;
    if (l.head.round > processed_ + kEarlyRoundsAhead * clock_.jump()) return 0;
    const View v = view();
    const int self = v.index_of(self_id()), them = v.index_of(l.from_id);
    if (self < 0 || them < 0 || v.size() < 2) return 0;
    const Adjacency edges = graph_->round_edges(v, l.head.round);
    const Eigen::MatrixXd w = mixing_matrix(edges, graph_->directed());
    const double to_them = w(them, self), to_me = w(self, them);
    return to_me > 0 && to_me == to_them ? to_me : 0;
  }

  // Answers `l` with the published snapshot v and adds w (x_sender − v) to this peer. Called
  // with `lock` held; returns with it released.
  void answer_early(std::unique_lock<std::mutex>& lock, Letter&& l, double weight) {
    const PeerId from = l.from_id;
    const std::uint64_t round = l.head.round;
    const auto v = published_.value();
    answered_.insert({round, from});
    lock.unlock();
    if (!channel().send(l.from, head(kPullValue, round), *v)) {
      // The sender may not have it: take part in that round as usual.
      lock.lock();
      answered_.erase({round, from});
      mailbox_.put(std::move(l), round);
      lock.unlock();
      return;
    }
    std::vector<float> delta(v->size());
    const float wf = static_cast<float>(weight);
    for (std::size_t k = 0; k < delta.size(); ++k) delta[k] = wf * (l.values[k] - (*v)[k]);
    add_correction(0, delta, 1.0f);
    lock.lock();
    published_.add(delta);
    ++answered_early_;
    lock.unlock();
  }

  // Drops kept values of rounds before `round` that no averaging will use, and tells their
  // senders (who may be waiting for this peer's value of that round) that none will come.
  void drop_stale(std::uint64_t round) {
    std::vector<Letter> dropped;
    {
      std::lock_guard lock(mutex_);
      dropped = mailbox_.take_if([&](const Letter&, std::uint64_t key) { return key < round && !active_.count(key); });
    }
    for (const auto& l : dropped) decline(l);
  }

  // Answers a value that arrived for a round this peer has passed (or skipped over) with an
  // empty value of that round: the sender stops waiting for this peer and averages without it.
  void decline(const Letter& l) {
    if (l.values.empty()) return;  // a refusal itself: never answered
    const std::string to = l.from;
    const std::uint64_t round = l.head.round;
    channel().post([this, to, round] { channel().send(to, head(kPullValue, round), {}, std::chrono::milliseconds(200)); });
  }

  bool pull_round(std::vector<float>& s, std::uint64_t round, const std::vector<Source>& sources,
                  const std::vector<std::string>& targets, double self_weight) {
    LetterHead h = head(kPullValue, round);
    for (const auto& to : targets) {
      h.id = 0;
      channel().send(to, h, s);
    }
    const auto until = deadline();
    std::vector<double> base{self_weight};
    std::vector<Contribution> who{own_contribution()};
    std::vector<Letter> got;
    for (const auto& src : sources) {
      auto l = mailbox_.wait({kPullValue}, src.id, round, std::min(until, deadline(src.id)), timings().poll, [&] { return !alive(src.id); });
      if (!l || l->values.size() != s.size()) {
        // Left out: its weight stays on this peer's own value.
        base[0] += src.weight;
        std::lock_guard lock(mutex_);
        ++missing_;
        continue;
      }
      base.push_back(src.weight);
      who.push_back(contribution_of(*l));
      got.push_back(std::move(*l));
    }
    {
      std::lock_guard lock(mutex_);
      active_.erase(round);
    }
    if (got.empty()) return false;
    std::vector<double> weights;
    if (dynamic()) {
      weights = dynamic_weights(base, who, weight_config());
    } else {
      double sum = 0;
      for (double b : base) sum += b;
      for (double b : base) weights.push_back(b / sum);
    }
    const float ws = static_cast<float>(weights[0]);
    std::vector<float> acc(s.size());
    for (std::size_t k = 0; k < s.size(); ++k) acc[k] = ws * s[k];
    for (std::size_t n = 0; n < got.size(); ++n) {
      const float wn = static_cast<float>(weights[n + 1]);
      const float* x = got[n].values.data();
      for (std::size_t k = 0; k < s.size(); ++k) acc[k] += wn * x[k];
    }
    if (early_) {
      // The published snapshot takes this average too.
      std::vector<float> delta(s.size());
      for (std::size_t k = 0; k < s.size(); ++k) delta[k] = acc[k] - s[k];
      std::lock_guard lock(mutex_);
      published_.add(delta);
    }
    s.swap(acc);
    return true;
  }

  bool push_round(std::uint64_t round, const View& v, int self, std::span<float> z) {
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<std::string> target;
    if (self >= 0 && v.size() > 1) {
      const std::vector<std::size_t> out = graph_->neighbours(v, static_cast<std::size_t>(self), round);
      // Only to a peer whose strategy has started: mass sent to a peer that is still loading
      // would only come back late.
      std::vector<std::size_t> ready;
      for (std::size_t j : out)
        if (started(v.members[j].id)) ready.push_back(j);
      if (!ready.empty()) target = v.members[ready[round_seed(round, self_id()) % ready.size()]].address;
    }
    // weight_ is written only here (the training thread); the channel thread fills the inbox.
    const double w = weight_;
    bool changed = false;
    double keep = 1.0;
    if (target) {
      // Send half of (x, w) = (w z / 2, w / 2); keep the other half.
      std::vector<float> share(z.size());
      const float half = static_cast<float>(w / 2);
      for (std::size_t k = 0; k < z.size(); ++k) share[k] = half * z[k];
      LetterHead h = head(kPushShare, round);
      h.value = w / 2;
      if (channel().send(*target, h, share)) keep = 0.5;
    }
    std::lock_guard lock(mutex_);
    const double total = w * keep + inbox_weight_;
    if ((keep != 1.0 || inbox_weight_ > 0) && std::isfinite(total) && total > 1e-30) {
      // z <- (w keep z + Σ x_shares) / total, with the scale factors formed in double.
      const float a = static_cast<float>(w * keep / total);
      const float b = static_cast<float>(1.0 / total);
      if (inbox_x_.size() != z.size()) inbox_x_.assign(z.size(), 0.0f);
      for (std::size_t k = 0; k < z.size(); ++k) z[k] = a * z[k] + b * inbox_x_[k];
      std::fill(inbox_x_.begin(), inbox_x_.end(), 0.0f);
      weight_ = total;
      inbox_weight_ = 0;
      changed = true;
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto add = [](std::atomic<double>& a, double v) {
      double cur = a.load();
      while (!a.compare_exchange_weak(cur, cur + v)) {
      }
    };
    add(services().stats.comm_s, dt);
    add(services().stats.idle_s, dt);
    return changed;
  }

  void on_value(Letter&& l) {
    clock_.saw(l.head.round);
    {
      std::unique_lock lock(mutex_);
      if (l.head.round > processed_ && !l.values.empty()) {
        if (double w = early_weight_locked(l); w > 0) {
          if (dynamic()) {
            // A stale sender (restarted, far behind) moves this peer by its currency only.
            const Contribution c = contribution_of(l);
            w *= currency(c, std::max(c.step, current_step()), weight_config());
          }
          answer_early(lock, std::move(l), w);
          return;
        }
      }
      if (l.head.round > processed_ || active_.count(l.head.round)) {
        const std::uint64_t key = l.head.round;
        mailbox_.put(std::move(l), key);
        return;
      }
      ++late_;
    }
    decline(l);
  }

  void on_share(Letter&& l) {
    clock_.saw(l.head.round);
    if (!(l.head.value > 0) || !std::isfinite(l.head.value)) return;
    double scale = 1.0;
    if (dynamic()) {
      const Contribution c = contribution_of(l);
      scale = currency(c, std::max(c.step, current_step()), weight_config());
    }
    std::lock_guard lock(mutex_);
    if (inbox_x_.size() != l.values.size()) {
      if (inbox_weight_ > 0 || l.values.size() != services().model.size()) return;
      inbox_x_.assign(l.values.size(), 0.0f);
    }
    const float f = static_cast<float>(scale);
    for (std::size_t k = 0; k < l.values.size(); ++k) inbox_x_[k] += f * l.values[k];
    inbox_weight_ += scale * l.head.value;
  }

  std::unique_ptr<Graph> graph_;
  bool push_ = false;
  RoundClock clock_{RoundClock::jump_for(options().tau, 0, options().merge.overlap)};
  Mailbox mailbox_;
  mutable std::mutex mutex_;
  std::uint64_t processed_ = 0;
  std::set<std::uint64_t> active_;
  double weight_ = 1.0;         // push-sum weight w (parameters hold z = x / w)
  std::vector<float> inbox_x_;  // Σ received x shares since the last round
  double inbox_weight_ = 0;     // Σ received w shares
  std::uint64_t late_ = 0, missing_ = 0;
  bool early_ = false;  // early answers (see above)
  PublishedSnapshot published_;  // what early answers send
  std::set<std::pair<std::uint64_t, PeerId>> answered_;  // (round, neighbour) answered early
  std::uint64_t answered_early_ = 0;
};

const bool registered = register_strategy<GossipStrategy, GossipOptions>(
    {"gossip", "gossip", "Gossiping SGD: average with the topology's neighbours by pull averaging or push-sum", 50});

}  // namespace
}  // namespace chorus
