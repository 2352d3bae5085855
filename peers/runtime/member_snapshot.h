#pragma once
// MemberSnapshot: the members a peer last knew, saved beside its checkpoint (as Serf's snapshot
// file is), so that a peer restarted after its seeds died finds its swarm through any member it
// remembers rather than starting one of its own.
//
// The file (members.json in the checkpoint directory) is a JSON array of {"id", "address"} for
// the other members of the last view that had any; it is written atomically. A missing,
// damaged or foreign file reads as no members (load() says why in `problem`): the peer then
// joins through its seeds alone, and the next view overwrites the file. Not thread-safe.
#include <string>
#include <vector>

#include "topology/view.h"

namespace chorus {

class MemberSnapshot {
 public:
  explicit MemberSnapshot(std::string directory);

  // Addresses of remembered members, at most this many, chosen at random: a peer joining tries
  // every one of them each time.
  static constexpr std::size_t kMaxAddresses = 32;

  // The addresses of the remembered members (none when there is no usable file).
  std::vector<std::string> load(std::string* problem = nullptr) const;
  // Saves the members of `view` other than `self`, when there are any and they differ from what
  // was saved last. Throws UserError when the file cannot be written.
  void save(const View& view, PeerId self);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::pair<PeerId, std::string>> saved_;
};

}  // namespace chorus
