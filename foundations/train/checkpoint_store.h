#pragma once
// CheckpointStore: a peer's checkpoint directory — its stable identity and its last
// checkpoint, written so that no crash ever loses the previous one.
//
// Files: <dir>/peer.id (the peer's stable id, created on first start, and its incarnation
// counter, bumped on every start) and <dir>/checkpoint.bin (a TrainingState). save() writes
// a temporary file in the same directory, fsyncs it, renames it over checkpoint.bin and
// fsyncs the directory: a crash at any point leaves either the old or the new checkpoint,
// never a torn one. Leftover temporary files are removed on open. Errors (unwritable
// directory, corrupt file) are UserErrors naming the file. Not thread-safe.
#include <cstdint>
#include <optional>
#include <string>

#include "foundations/base/peer_id.h"
#include "foundations/train/training_state.h"

namespace chorus {

struct PeerIdentity {
  PeerId id = 0;                  // stable across restarts, never 0
  std::uint64_t incarnation = 0;  // 1 on first start, +1 on every later start
};

class CheckpointStore {
 public:
  // Creates the directory if needed.
  explicit CheckpointStore(std::string dir);

  // Loads (or creates) peer.id and bumps the incarnation durably.
  PeerIdentity start_incarnation();
  void save(const TrainingState& state);
  // The last checkpoint, or nothing if none was ever written.
  std::optional<TrainingState> load() const;

  const std::string& dir() const { return dir_; }
  std::string checkpoint_path() const;

 private:
  std::string dir_;
};

// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename, fsync
// of the directory). Throws UserError naming the path.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace chorus
