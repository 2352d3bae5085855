#pragma once
// MemberTable: what this member knows about every member it ever heard of, one record per id
// (dead and departed ones stay, as tombstones), and the numbered view derived from it.
//
// Facts about one member are ordered by (incarnation, state, version), states ranked alive <
// suspect < dead < left; a fact replaces a record only when it ranks higher, so the table is
// a join of everything heard and two members that heard the same facts hold the same table.
// Each record's version grows with every change of the record: a record replaced by a
// higher-ranked fact gets version max(fact's, old + 1), so the view number -- the sum of all
// versions -- grows with every change, and equal versions spread like any other fact.
//
// Not thread-safe; the owner locks. Holds at most `max_members` records (facts about unknown
// members beyond that are refused).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "peers/membership/membership.h"
#include "topology/view.h"

namespace chorus::membership {

struct MemberRecord {
  Member member;  // id, address, group, incarnation
  MemberState state = MemberState::alive;
  std::uint64_t version = 0;  // grows with every change of this record
  PeerId accuser = 0;         // suspect: the member that suspected it; otherwise 0
};

// Whether a member in this state belongs to the view.
inline bool is_live(MemberState s) { return s == MemberState::alive || s == MemberState::suspect; }

// -1, 0, 1 as `a` ranks below, equal to, above `b` (incarnation, state, version; accuser and
// address are not ranked).
int compare_facts(const MemberRecord& a, const MemberRecord& b);
// Same without the version: whether `a` is a newer fact than `b`, not just a newer count.
int compare_states(const MemberRecord& a, const MemberRecord& b);

struct TableChange {
  std::optional<MemberRecord> before;  // none: the member was unknown
  MemberRecord after;
};

class MemberTable {
 public:
  explicit MemberTable(std::size_t max_members) : max_members_(max_members) {}

  // Applies a fact; returns the change, or nothing when the fact ranks no higher than the
  // record (or the member is unknown and the table is full: then refused() counts it).
  std::optional<TableChange> apply(const MemberRecord& fact);

  const MemberRecord* find(PeerId id) const;
  std::vector<MemberRecord> records() const;  // sorted by id
  std::vector<PeerId> live_ids() const;       // alive or suspect, sorted
  std::size_t live_count() const { return live_; }
  std::size_t size() const { return records_.size(); }
  std::uint64_t view_number() const { return number_; }
  // The live members (alive and suspect; only the alive ones when !with_suspects), numbered
  // view_number() either way.
  View view(bool with_suspects = true) const;
  std::uint64_t refused() const { return refused_; }

 private:
  std::size_t max_members_;
  std::unordered_map<PeerId, MemberRecord> records_;
  std::uint64_t number_ = 0;
  std::size_t live_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace chorus::membership
