#include "foundations/data/batch_cursor.h"

#include <fmt/format.h>

#include <algorithm>

#include "foundations/base/error.h"
#include "foundations/base/portable_rng.h"

// Behaviour beyond the header's contract:
// - An empty shard has no batches: next() returns an empty vector and the position stays
//   at (epoch, 0); it never loops.
// - After the last batch of an epoch the position is (epoch + 1, 0), already reshuffled.
// - seek() accepts any position offset() can report: epoch >= 0 and offset < shard_size()
//   (offset 0 for an empty shard); anything else is a UserError (a corrupt saved position).
// - next() with batch < 1 is a UserError.

namespace chorus {

namespace {
// Separates the per-epoch order streams from the others drawn from the same seed.
constexpr std::uint64_t kEpochStream = 0x45504f4348ull;  // "EPOCH"
}  // namespace

BatchCursor::BatchCursor(std::vector<std::uint32_t> shard, std::uint64_t seed)
    : shard_(std::move(shard)), seed_(seed) {
  shuffle();
}

void BatchCursor::shuffle() {
  order_ = shard_;
  SplitMix64 rng(derive_seed(derive_seed(seed_, kEpochStream), static_cast<std::uint64_t>(epoch_)));
  portable_shuffle(order_, rng);
}

std::vector<std::uint32_t> BatchCursor::next(int batch) {
  if (batch < 1)
    throw UserError(fmt::format("batch size {} is invalid: it must be at least 1", batch));
  if (order_.empty()) return {};
  const std::size_t take = std::min(static_cast<std::size_t>(batch), order_.size() - offset_);
  std::vector<std::uint32_t> out(order_.begin() + static_cast<std::ptrdiff_t>(offset_),
                                 order_.begin() + static_cast<std::ptrdiff_t>(offset_ + take));
  offset_ += take;
  if (offset_ == order_.size()) {
    ++epoch_;
    offset_ = 0;
    shuffle();
  }
  return out;
}

void BatchCursor::seek(std::int64_t epoch, std::size_t offset) {
  if (epoch < 0)
    throw UserError(fmt::format("batch position epoch {} is invalid: it must be >= 0", epoch));
  if (offset >= shard_.size() && !(offset == 0 && shard_.empty()))
    throw UserError(fmt::format("batch position offset {} is past the end of the {}-sample shard",
                                offset, shard_.size()));
  epoch_ = epoch;
  offset_ = offset;
  shuffle();
}

}  // namespace chorus
