#pragma once
// BatchCursor: the batches of one shard, epoch after epoch.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace chorus {

// Walks a shard in batches, reshuffled each epoch by (seed, epoch). The position (epoch,
// offset) can be saved and restored, so a resumed peer continues with the same batches.
class BatchCursor {
 public:
  BatchCursor(std::vector<std::uint32_t> shard, std::uint64_t seed);
  // Indices of the next batch (at most `batch`; the last batch of an epoch may be short).
  // Advances to the next epoch after the last batch.
  std::vector<std::uint32_t> next(int batch);
  std::int64_t epoch() const { return epoch_; }
  std::size_t offset() const { return offset_; }
  std::size_t shard_size() const { return shard_.size(); }
  void seek(std::int64_t epoch, std::size_t offset);

 private:
  void shuffle();
  std::vector<std::uint32_t> shard_, order_;
  std::uint64_t seed_;
  std::int64_t epoch_ = 0;
  std::size_t offset_ = 0;
};

}  // namespace chorus
