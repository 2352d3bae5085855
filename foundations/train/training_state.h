#pragma once
// TrainingState: everything a peer needs to continue training where another left off — the
// flat parameter buffer, the flat optimizer state, the step count and the data position.
// Checkpoints store it; state transfer sends it to a joining peer. Both use encode/decode,
// so one format, one set of checks.
//
// Encoding (little-endian): magic "CHST", version, model name, optimizer name, step, epoch,
// data offset, shard size, element counts, the floats, and a CRC-32 of everything before it.
// Version 1 (no shard size) still decodes, with shard_size 0. decode()
// checks every length, the CRC, and that no value is NaN or Inf, and throws UserError naming
// `what` (a file path or a peer address) and the problem.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace chorus {

struct TrainingState {
  std::string model;
  std::string optimizer;
  std::int64_t step = 0;         // optimizer steps taken
  std::int64_t epoch = 0;        // data position: BatchCursor epoch…
  std::uint64_t offset = 0;      // …and offset within it
  std::uint64_t shard_size = 0;  // …of a shard of this many samples (0: unknown), so that a peer
                                 // with another shard can take the same fraction of the epoch
  std::vector<float> params;     // the model's flat parameter buffer
  std::vector<float> optimizer_state;

  std::vector<std::byte> encode() const;
  static TrainingState decode(std::span<const std::byte> bytes, const std::string& what);
};

}  // namespace chorus
