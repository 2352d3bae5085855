#include "peers/membership/member_table.h"

#include <algorithm>

namespace chorus::membership {

namespace {
int rank(MemberState s) {
  switch (s) {
    case MemberState::alive: return 0;
    case MemberState::suspect: return 1;
    case MemberState::dead: return 2;
    case MemberState::left: return 3;
  }
  return 0;
}
template <class T>
int three_way(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}
}  // namespace

int compare_states(const MemberRecord& a, const MemberRecord& b) {
  if (int c = three_way(a.member.incarnation, b.member.incarnation)) return c;
  return three_way(rank(a.state), rank(b.state));
}

int compare_facts(const MemberRecord& a, const MemberRecord& b) {
  if (int c = compare_states(a, b)) return c;
  return three_way(a.version, b.version);
}

std::optional<TableChange> MemberTable::apply(const MemberRecord& fact) {
  auto it = records_.find(fact.member.id);
  if (it == records_.end()) {
    if (records_.size() >= max_members_) {
      ++refused_;
      return std::nullopt;
    }
    MemberRecord r = fact;
    r.version = std::max<std::uint64_t>(fact.version, 1);
    records_.emplace(r.member.id, r);
    number_ += r.version;
    if (is_live(r.state)) ++live_;
    return TableChange{std::nullopt, r};
  }
  MemberRecord& cur = it->second;
  const int by_state = compare_states(fact, cur);
  if (by_state < 0 || (by_state == 0 && fact.version <= cur.version)) return std::nullopt;
  TableChange change{cur, fact};
  // A newer state always advances the version; a newer count of the same state adopts it.
  change.after.version = by_state > 0 ? std::max(fact.version, cur.version + 1) : fact.version;
  if (change.after.state != MemberState::suspect) change.after.accuser = 0;
  number_ += change.after.version - cur.version;
  live_ += is_live(change.after.state) ? 1 : 0;
  live_ -= is_live(cur.state) ? 1 : 0;
  cur = change.after;
  return change;
}

const MemberRecord* MemberTable::find(PeerId id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

std::vector<MemberRecord> MemberTable::records() const {
  std::vector<MemberRecord> out;
  out.reserve(records_.size());
  for (const auto& [id, r] : records_) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.member.id < b.member.id; });
  return out;
}

std::vector<PeerId> MemberTable::live_ids() const {
  std::vector<PeerId> out;
  out.reserve(live_);
  for (const auto& [id, r] : records_)
    if (is_live(r.state)) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

View MemberTable::view(bool with_suspects) const {
  View v;
  v.number = number_;
  v.members.reserve(live_);
  for (const auto& [id, r] : records_)
    if (r.state == MemberState::alive || (with_suspects && r.state == MemberState::suspect)) v.members.push_back(r.member);
  std::sort(v.members.begin(), v.members.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return v;
}

}  // namespace chorus::membership
