#include "peers/gossip/leader_board.h"

#include <algorithm>
#include <cmath>

namespace chorus::gossip {

void LeaderBoard::record(const LossReport& r) {
  if (!std::isfinite(r.loss)) return;
  std::lock_guard lock(mutex_);
  if (!reports_.empty() && reports_.size() >= rounds_kept_ && r.round < reports_.begin()->first) return;
  auto& slot = reports_[r.round][r.id];
  if (slot.id == 0 || r.incarnation >= slot.incarnation) slot = r;
  while (reports_.size() > rounds_kept_) reports_.erase(reports_.begin());
}

std::vector<PeerId> LeaderBoard::missing(std::uint64_t round, const View& view) const {
  std::lock_guard lock(mutex_);
  std::vector<PeerId> out;
  auto it = reports_.find(round);
  for (const auto& m : view.members)
    if (it == reports_.end() || !it->second.count(m.id)) out.push_back(m.id);
  return out;
}

std::optional<std::uint64_t> LeaderBoard::latest_round(PeerId id) const {
  std::lock_guard lock(mutex_);
  for (auto it = reports_.rbegin(); it != reports_.rend(); ++it)
    if (it->second.count(id)) return it->first;
  return std::nullopt;
}

std::vector<PeerId> LeaderBoard::ranking(std::uint64_t round) const {
  std::lock_guard lock(mutex_);
  std::vector<PeerId> out;
  auto it = reports_.find(round);
  if (it == reports_.end()) return out;
  std::vector<const LossReport*> rs;
  for (const auto& [id, r] : it->second) rs.push_back(&r);
  std::sort(rs.begin(), rs.end(), [](const LossReport* a, const LossReport* b) {
    return a->loss != b->loss ? a->loss < b->loss : a->id < b->id;
  });
  for (const auto* r : rs) out.push_back(r->id);
  return out;
}

bool LeaderBoard::adopt(std::uint64_t round) {
  auto r = ranking(round);
  if (r.empty()) return false;
  std::lock_guard lock(mutex_);
  adopted_ = std::move(r);
  adopted_round_ = round;
  return true;
}

std::vector<PeerId> LeaderBoard::adopted() const {
  std::lock_guard lock(mutex_);
  return adopted_;
}

std::optional<std::uint64_t> LeaderBoard::adopted_round() const {
  std::lock_guard lock(mutex_);
  return adopted_round_;
}

std::optional<PeerId> LeaderBoard::leader(const View& view, const std::set<PeerId>* among) const {
  std::lock_guard lock(mutex_);
  for (PeerId id : adopted_) {
    if (view.index_of(id) < 0) continue;
    if (among && !among->count(id)) continue;
    return id;
  }
  return std::nullopt;
}

}  // namespace chorus::gossip
