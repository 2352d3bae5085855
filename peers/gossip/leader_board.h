#pragma once
// LeaderBoard: who leads an LSGD swarm, agreed without a coordinator.
//
// Every τ steps each peer broadcasts a loss report for the current election round e (its
// training loss as an exponential moving average, with its step and incarnation). The ranking
// of round e is every member that reported for e, ordered by (loss, id) — a pure function of
// the round's reports, so peers holding the same reports compute the same ranking. A peer
// adopts the ranking of an earlier round (LSGD: e−2) at its round-e exchange point once it is
// complete (every started member of the view has reported it), else keeps the previous one. The leader is the first member of the adopted ranking that is in the current view;
// the leader of a group the first one in that group. So when the leader dies, every peer names
// the next-lowest as soon as its membership view drops the dead one, and for one view (and one
// adopted ranking) all peers agree.
//
// Threading: every method is thread-safe (record() is called by the channel thread, the rest
// by the training or merge thread). Nothing blocks.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "topology/view.h"

namespace chorus::gossip {

struct LossReport {
  PeerId id = 0;
  std::uint64_t round = 0;
  double loss = 0;
  std::int64_t step = 0;
  std::uint64_t incarnation = 0;
};

class LeaderBoard {
 public:
  explicit LeaderBoard(std::size_t rounds_kept = 8) : rounds_kept_(rounds_kept) {}

  void record(const LossReport& report);
  // Members of `view` that have not reported for `round`.
  std::vector<PeerId> missing(std::uint64_t round, const View& view) const;
  // The highest round `id` has reported for, if any.
  std::optional<std::uint64_t> latest_round(PeerId id) const;
  // The ranking of `round`: reporters ordered by (loss, id).
  std::vector<PeerId> ranking(std::uint64_t round) const;
  // Adopts ranking(round) if it is not empty; returns whether it did.
  bool adopt(std::uint64_t round);
  std::vector<PeerId> adopted() const;
  std::optional<std::uint64_t> adopted_round() const;
  // The first adopted member in `view` (and in `among`, when given); nullopt if none.
  std::optional<PeerId> leader(const View& view, const std::set<PeerId>* among = nullptr) const;

 private:
  const std::size_t rounds_kept_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::map<PeerId, LossReport>> reports_;  // round -> id -> report
  std::vector<PeerId> adopted_;
  std::optional<std::uint64_t> adopted_round_;
};

}  // namespace chorus::gossip
