// `elastic-gossip` (Elastic Gossip): every τ steps (or, with --p, at the steps a shared
// pseudo-random sequence picks with probability p) each peer is paired with one partner by the
// topology module's matching for that round; the pair swaps parameters and both apply the same
//     d = α (x_a − x_b)      (a = the lower peer id):   x_a ← x_a − d,  x_b ← x_b + d,
// computed bit-identically on both sides, so the sum of all parameters is unchanged up to the
// rounding of the two updates. With --dynamic-weights the rates become α·2c_b/(c_a+c_b) for a
// and α·2c_a/(c_a+c_b) for b (c = currency from each side's step and steps since restart,
// carried in the letters, so both sides agree); the sum is then no longer preserved.
//
// Protocol: one round trip. At round r a peer sends its snapshot (kElasticOffer, round r) to
// its partner and waits for the partner's offer for round r; each side applies d when it has
// both. Offers that arrive early are kept until their round; an offer for a round the receiver
// has passed, or from a peer that is not its partner for that round, is refused
// (kElasticNack): a pair either both apply d or neither does. A wait that runs out leaves the
// exchange pending (the partner's offer, when it comes, is applied as a correction at the next
// step) until the partner leaves the view. Rounds follow RoundClock.
// Early replies (--overlap S >= 1 only): an offer for a round this peer has not reached, from
// that round's partner and at most kEarlyRoundsAhead round-clock jumps ahead, is answered at
// once from the channel thread (kElasticReply) with the published snapshot; the sender applies
// the pair's d as its merge, this peer as a correction at its next step, and this peer skips
// that round when it gets there. A reply is never answered.
//
// Threading: exchange() and due() on the training thread; the pair exchange on the merge
// thread with --overlap S >= 0 (x ← x̄ + (x − s); an exchange point reached while one still
// runs is skipped and that round's partner refused), else inline; offers and refusals are
// handled on the channel thread (never waiting on training). State shared between them is
// under mutex_. Every wait is bounded by ExchangeTimings::exchange_timeout and gives up as soon
// as the partner leaves the view.
//
// Why early replies keep the sum and S = 0 bit-exact: docs/gossip.md, "Early answers".
#include <limits>
#include <map>
#include <set>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/gossip/peer_exchange.h"
#include "peers/gossip/published_snapshot.h"
#include "topology/graph.h"
#include "topology/hash_order.h"

namespace chorus {
namespace {

using namespace gossip;

constexpr std::uint64_t kSaltElasticSchedule = 0x656c617374696331ull;
constexpr std::size_t kMaxPending = 16;

struct ElasticGossipOptions {
  float alpha = 0.5f;
  int tau = 4;
  float p = 0.0f;
  std::string graph = "ring";
  MergeOptions merge;
  void declare(OptionSet& set) {
    set.real("alpha", alpha, "Moving rate of the elastic exchange", Interval::left_open(0, 1));
    declare_tau_option(set, tau);
    set.real("p", p, "Exchange with probability P at each step instead of every tau steps (0: every tau)",
             Interval::closed(0, 1));
    declare_graph_option(set, graph);
    merge.declare(set);
  }
  void check() const {}
};

class ElasticGossipStrategy final : public PeerExchangeOf<ElasticGossipOptions> {
 public:
  ElasticGossipStrategy(PeerServices& services, const ElasticGossipOptions& o)
      : PeerExchangeOf(services, o), graph_(graph_from_option(o.graph)), mailbox_(64) {
    channel().on(kElasticOffer, [this](Letter&& l) { on_offer(std::move(l)); });
    channel().on(kElasticNack, [this](Letter&& l) { on_nack(std::move(l)); });
    channel().on(kElasticReply, [this](Letter&& l) { on_reply(std::move(l)); });
    channel().on_tick([this] { drop_departed(); });
    start();
  }
  ~ElasticGossipStrategy() override { shutdown(); }

  nlohmann::json diagnostics() const override {
    std::lock_guard lock(mutex_);
    return {{"round", clock_.current()}, {"pending", pending_.size()}, {"applied", applied_},
            {"refused", refused_}, {"late", late_}, {"skipped", skipped_}, {"answered_early", answered_early_}};
  }

 protected:
  bool due(std::int64_t step) override {
    const auto& o = options();
    if (o.p > 0) {
      const double u = static_cast<double>(round_seed(static_cast<std::uint64_t>(step), kSaltElasticSchedule) >> 11) *
                       (1.0 / 9007199254740992.0);
      return u < o.p;
    }
    return step % o.tau == 0;
  }

  bool exchange(std::int64_t step, std::span<float> params) override {
    const auto [round, partner] = take_round(params, /*exchanging=*/true);
    if (!partner) return false;
    const PeerId pid = partner->id;
    const std::string addr = partner->address;
    return merge().begin(params, step, [this, round, pid, addr](std::vector<float>& s) {
      return pair_exchange(s, round, pid, addr);
    });
  }

  bool skip(std::int64_t, std::span<float> params) override {
    // Take the round without exchanging, and tell this round's partner not to wait (unless
    // this peer answered its offer early: then that exchange is done).
    const auto [round, partner] = take_round(params, /*exchanging=*/false);
    if (partner) {
      const std::string to = partner->address;
      channel().post([this, to, round] { refuse(to, round); });
    }
    return false;
  }

  bool leaving(std::span<float>) override {
    std::vector<Letter> refused;
    {
      std::lock_guard lock(mutex_);
      pending_.clear();
      answered_.clear();
      published_.reset();
      processed_ = std::numeric_limits<std::uint64_t>::max() - 1;
      refused = mailbox_.take_if([](const Letter&, std::uint64_t) { return true; });
    }
    for (const auto& l : refused) refuse(l.from, l.head.round);
    return false;
  }

 private:
  struct Pending {
    std::vector<float> sent;  // the snapshot this peer offered
    LetterHead sent_head;
  };
  using PairKey = std::pair<PeerId, std::uint64_t>;  // partner, round

  // Applies the exchange with the partner's offer to `mine` (the snapshot this peer offered).
  void apply_pair(std::vector<float>& mine, const LetterHead& my_head, const Letter& theirs) const {
    CHORUS_CHECK(theirs.values.size() == mine.size(), "elastic offer of the wrong size");
    const bool self_is_a = self_id() < theirs.from_id;
    const float* xa = self_is_a ? mine.data() : theirs.values.data();
    const float* xb = self_is_a ? theirs.values.data() : mine.data();
    float rate_a = options().alpha, rate_b = options().alpha;
    if (dynamic()) {
      const Contribution me{my_head.step, my_head.since_start, 0.0};
      const Contribution them{theirs.head.step, theirs.head.since_start, 0.0};
      const std::int64_t newest = std::max(me.step, them.step);
      const double cm = currency(me, newest, weight_config()), ct = currency(them, newest, weight_config());
      const PairRates r = self_is_a ? pair_rates(options().alpha, cm, ct) : pair_rates(options().alpha, ct, cm);
      rate_a = static_cast<float>(r.a);
      rate_b = static_cast<float>(r.b);
    }
    std::vector<float> out(mine.size());
    if (self_is_a) {
      for (std::size_t k = 0; k < mine.size(); ++k) out[k] = xa[k] - rate_a * (xa[k] - xb[k]);
    } else {
      for (std::size_t k = 0; k < mine.size(); ++k) out[k] = xb[k] + rate_b * (xa[k] - xb[k]);
    }
    mine.swap(out);
  }

  bool pair_exchange(std::vector<float>& s, std::uint64_t round, PeerId pid, const std::string& addr) {
    LetterHead h = head(kElasticOffer, round);
    h.id = channel().next_id();
    const bool sent = channel().send(addr, h, s);
    std::optional<Letter> reply;
    if (sent)
      reply = mailbox_.wait({kElasticOffer, kElasticReply, kElasticNack}, pid, round, deadline(pid), timings().poll,
                            [&] { return !alive(pid); });
    std::lock_guard lock(mutex_);
    active_.erase({pid, round});
    if (!reply) reply = mailbox_.take({kElasticOffer, kElasticReply, kElasticNack}, pid, round);
    if (!reply) {
      // Sent and still a member: the partner may yet answer; keep the exchange pending.
      if (sent && alive(pid)) {
        while (pending_.size() >= kMaxPending) {
          note("elastic_pending_dropped", {{"round", pending_.begin()->first.second}});
          pending_.erase(pending_.begin());
        }
        pending_[{pid, round}] = Pending{s, h};
      }
      return false;
    }
    if (reply->head.kind == kElasticNack) {
      ++refused_;
      return false;
    }
    if (reply->values.size() != s.size()) {  // another model: nothing to average with
      note("elastic_offer_refused", {{"from", reply->from}, {"values", reply->values.size()}});
      ++refused_;
      return false;
    }
    if (early_replies_) {
      std::vector<float> delta = s;
      apply_pair(s, h, *reply);
      for (std::size_t k = 0; k < s.size(); ++k) delta[k] = s[k] - delta[k];
      published_.add(delta);
    } else {
      apply_pair(s, h, *reply);
    }
    ++applied_;
    return true;
  }

  void refuse(const std::string& to, std::uint64_t round) {
    LetterHead h = head(kElasticNack, round);
    h.nack.clock = clock_.current();
    channel().send(to, h, {}, std::chrono::milliseconds(200));
  }

  // Takes the next exchange round at an exchange point: this round's partner from the topology
  // (none when this peer sits the round out, or when an early answer already did the round's
  // exchange with it), with the round marked processed, the published snapshot brought up to
  // date and offers for other rounds refused. `exchanging`: whether this peer exchanges in the
  // round, or skips it.
  struct Round {
    std::uint64_t number = 0;
    std::optional<Member> partner;
  };
  Round take_round(std::span<const float> params, bool exchanging) {
    Round r{clock_.next(), std::nullopt};
    const View v = view();
    std::optional<PeerId> partner_id;
    if (v.index_of(self_id()) >= 0 && v.size() > 1) partner_id = partner(*graph_, v, self_id(), r.number);
    const Member* partner = partner_id ? find_member(v, *partner_id) : nullptr;
    std::lock_guard lock(mutex_);
    processed_ = r.number;
    publish_locked(r.number, params);
    // Answered early: this round's exchange with the partner is done already.
    if (partner && answered_.erase({partner->id, r.number})) partner = nullptr;
    if (partner && exchanging) active_.insert({partner->id, r.number});
    refuse_stale_locked(r.number, partner && exchanging ? partner->id : 0);
    if (!exchanging) ++skipped_;
    if (partner) r.partner = *partner;
    return r;
  }

  // Refuses kept offers this peer will never use: rounds it has passed, and this round's
  // offers from anyone but its partner. Caller holds mutex_.
  void refuse_stale_locked(std::uint64_t round, PeerId partner) {
    auto stale = mailbox_.take_if([&](const Letter& l, std::uint64_t key) {
      if (l.head.kind != kElasticOffer || active_.count({l.from_id, key})) return false;
      return key < round || (key == round && l.from_id != partner);
    });
    for (const auto& l : stale) {
      const std::string to = l.from;
      const std::uint64_t r = l.head.round;
      channel().post([this, to, r] { refuse(to, r); });
    }
  }

  void on_offer(Letter&& l) {
    clock_.saw(l.head.round);
    const PairKey key{l.from_id, l.head.round};
    std::unique_lock lock(mutex_);
    if (settle_pending(lock, key, l)) return;
    if (active_.count(key)) {
      mailbox_.put(std::move(l), key.second);
      return;
    }
    if (l.head.round > processed_) {
      if (!can_answer_early_locked(l)) {
        mailbox_.put(std::move(l), key.second);
        return;
      }
      answer_early(lock, std::move(l));
      return;
    }
    lock.unlock();
    refuse(l.from, l.head.round);
  }

  void on_reply(Letter&& l) {
    clock_.saw(l.head.round);
    const PairKey key{l.from_id, l.head.round};
    std::unique_lock lock(mutex_);
    if (settle_pending(lock, key, l)) return;
    if (active_.count(key)) mailbox_.put(std::move(l), key.second);
    // Otherwise nobody waits for it (this peer left the exchange); a reply is never answered.
  }

  // An offer or reply for an exchange this peer gave up waiting for but kept pending: applied
  // now as a correction. Returns whether `key` was pending. Called with `lock` held; returns
  // with it held.
  bool settle_pending(std::unique_lock<std::mutex>& lock, const PairKey& key, const Letter& l) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return false;
    Pending p = std::move(it->second);
    pending_.erase(it);
    lock.unlock();
    const bool fits = l.values.size() == p.sent.size();
    std::vector<float> delta;
    if (fits) {
      delta = pair_delta(p.sent, p.sent_head, l);
      add_correction(0, delta, 1.0f);
    }
    lock.lock();
    if (fits) {
      published_.add(delta);
      ++applied_;
      ++late_;
    }
    return true;
  }

  // The change the exchange with `theirs` makes to `mine` (the snapshot this peer offered).
  std::vector<float> pair_delta(const std::vector<float>& mine, const LetterHead& my_head, const Letter& theirs) const {
    std::vector<float> merged = mine;
    apply_pair(merged, my_head, theirs);
    for (std::size_t k = 0; k < merged.size(); ++k) merged[k] -= mine[k];
    return merged;
  }

  // Whether an offer for a round this peer has not reached may be answered now: overlapped
  // runs only, a snapshot published, a round at most kEarlyRoundsAhead round-clock jumps
  // ahead (so a member cannot make this peer answer for rounds without end), and the
  // sender is this round's partner in this peer's view (otherwise it waits for its round, as
  // without early replies). Caller holds mutex_.
  bool can_answer_early_locked(const Letter& l) const {
    if (!early_replies_ || !published_.fits(l.values.size())) return false;
    if (l.head.round > processed_ + kEarlyRoundsAhead * clock_.jump()) return false;
    const View v = view();
    if (v.index_of(self_id()) < 0 || v.size() < 2) return false;
    return partner(*graph_, v, self_id(), l.head.round) == std::optional<PeerId>(l.from_id);
  }

  // Sends the published snapshot back and applies the pair's d as a correction. Called with
  // `lock` held; returns with it released.
  void answer_early(std::unique_lock<std::mutex>& lock, Letter&& l) {
    const PairKey key{l.from_id, l.head.round};
    const auto snapshot = published_.value();
    LetterHead h = published_head_;
    answered_.insert(key);
    lock.unlock();
    h.kind = kElasticReply;
    h.round = l.head.round;
    h.id = 0;
    h.ref = l.head.id;
    if (!channel().send(l.from, h, *snapshot)) {
      // The sender may not have it: do the exchange at the round instead, from its offer.
      lock.lock();
      answered_.erase(key);
      mailbox_.put(std::move(l), key.second);
      lock.unlock();
      return;
    }
    const std::vector<float> delta = pair_delta(*snapshot, h, l);
    add_correction(0, delta, 1.0f);
    lock.lock();
    published_.add(delta);
    ++applied_;
    ++answered_early_;
    lock.unlock();
  }

  // At an exchange point: the snapshot early replies send from now on. Caller holds mutex_.
  void publish_locked(std::uint64_t round, std::span<const float> params) {
    if (!early_replies_) return;
    published_.set(params);
    published_head_ = head(kElasticReply, round);
    // Early answers for rounds passed without meeting that partner (the view changed).
    for (auto it = answered_.begin(); it != answered_.end();)
      it = it->second < round ? answered_.erase(it) : std::next(it);
  }

  void on_nack(Letter&& l) {
    clock_.saw(l.head.nack.clock);
    const PairKey key{l.from_id, l.head.round};
    std::lock_guard lock(mutex_);
    if (pending_.erase(key)) {
      ++refused_;
      return;
    }
    if (active_.count(key)) mailbox_.put(std::move(l), key.second);
  }

  void drop_departed() {
    std::lock_guard lock(mutex_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (!services().membership.is_member(it->first.first))
        it = pending_.erase(it);
      else
        ++it;
    }
  }

  std::unique_ptr<Graph> graph_;
  RoundClock clock_{RoundClock::jump_for(options().tau, options().p, options().merge.overlap)};
  Mailbox mailbox_;
  mutable std::mutex mutex_;  // processed_, active_, pending_, counters; held while filing offers
  std::uint64_t processed_ = 0;  // the latest round this peer has started (or skipped to)
  std::set<PairKey> active_;     // exchanges started and not yet answered
  std::map<PairKey, Pending> pending_;
  const bool early_replies_ = options().merge.overlap >= 1;
  PublishedSnapshot published_;  // what early replies send
  LetterHead published_head_;
  std::set<PairKey> answered_;  // offers answered before this peer reached their round
  std::uint64_t applied_ = 0, refused_ = 0, late_ = 0, skipped_ = 0, answered_early_ = 0;
};

const bool registered = register_strategy<ElasticGossipStrategy, ElasticGossipOptions>(
    {"elastic-gossip", "elastic", "symmetric elastic exchange with a partner matched by the topology (Elastic Gossip)", 40});

}  // namespace
}  // namespace chorus
