// BatchCursor: epochs, reshuffling, and exact resume with seek().
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "foundations/base/error.h"
#include "foundations/data/batch_cursor.h"
#include "foundations/data/dataset.h"
#include "foundations/data/shard_indices.h"

namespace {

using Batch = std::vector<std::uint32_t>;

std::vector<Batch> take(chorus::BatchCursor& c, int batches, int batch_size) {
  std::vector<Batch> out;
  for (int i = 0; i < batches; ++i) out.push_back(c.next(batch_size));
  return out;
}

Batch sorted(Batch b) {
  std::sort(b.begin(), b.end());
  return b;
}

}  // namespace

TEST_CASE("an epoch visits every shard index once, then the next epoch begins") {
  const Batch shard = chorus::shard_indices(1000, 5, 1, 3);  // 333 indices
  REQUIRE(shard.size() == 333);
  chorus::BatchCursor cursor(shard, 11);
  CHECK(cursor.shard_size() == 333);
  Batch epoch0;
  for (int b = 0; b < 34; ++b) {  // 33 batches of 10 and one of 3
    CHECK(cursor.epoch() == 0);
    const Batch batch = cursor.next(10);
    CHECK(batch.size() == (b < 33 ? 10u : 3u));
    epoch0.insert(epoch0.end(), batch.begin(), batch.end());
  }
  CHECK(cursor.epoch() == 1);
  CHECK(cursor.offset() == 0);
  CHECK(sorted(epoch0) == sorted(shard));
  CHECK(epoch0 != shard);  // shuffled

  Batch epoch1;
  while (cursor.epoch() == 1) {
    const Batch batch = cursor.next(64);
    epoch1.insert(epoch1.end(), batch.begin(), batch.end());
  }
  CHECK(sorted(epoch1) == sorted(shard));
  CHECK(epoch1 != epoch0);  // reshuffled per epoch
}

TEST_CASE("the order depends on seed and epoch only") {
  const Batch shard = chorus::shard_indices(500, 1, 0, 2);
  chorus::BatchCursor a(shard, 3), b(shard, 3), c(shard, 4);
  const auto from_a = take(a, 20, 32);
  CHECK(from_a == take(b, 20, 32));
  CHECK(from_a != take(c, 20, 32));
}

TEST_CASE("seek reproduces an uninterrupted run exactly") {
  const Batch shard = chorus::shard_indices(60000, 8, 3, 7);
  const int batch = 128;
  // Stop at a few points, including mid-epoch and right at an epoch boundary.
  for (int stop : {0, 1, 33, 67, 68, 150}) {
    CAPTURE(stop);
    chorus::BatchCursor run(shard, 21);
    take(run, stop, batch);
    const auto epoch = run.epoch();
    const auto offset = run.offset();
    const auto expected = take(run, 90, batch);

    chorus::BatchCursor resumed(shard, 21);
    take(resumed, 5, 50);  // somewhere else entirely
    resumed.seek(epoch, offset);
    CHECK(resumed.epoch() == epoch);
    CHECK(resumed.offset() == offset);
    CHECK(take(resumed, 90, batch) == expected);
  }
  // An arbitrary offset (not a multiple of the batch) continues the same order.
  chorus::BatchCursor whole(shard, 21);
  const Batch first = whole.next(1000);
  chorus::BatchCursor mid(shard, 21);
  mid.seek(0, 123);
  CHECK(mid.next(877) == Batch(first.begin() + 123, first.end()));
}

TEST_CASE("an empty shard yields empty batches without looping") {
  chorus::BatchCursor cursor({}, 1);
  CHECK(cursor.next(32).empty());
  CHECK(cursor.next(32).empty());
  CHECK(cursor.epoch() == 0);
  CHECK(cursor.offset() == 0);
  cursor.seek(4, 0);
  CHECK(cursor.next(1).empty());
}

TEST_CASE("invalid cursor use is a user error") {
  chorus::BatchCursor cursor({1, 2, 3}, 1);
  CHECK_THROWS_AS(cursor.next(0), chorus::UserError);
  CHECK_THROWS_AS(cursor.seek(-1, 0), chorus::UserError);
  CHECK_THROWS_AS(cursor.seek(0, 3), chorus::UserError);
  CHECK_THROWS_AS(chorus::BatchCursor({}, 1).seek(0, 1), chorus::UserError);
  cursor.seek(2, 2);
  CHECK(cursor.next(5).size() == 1);  // the rest of epoch 2
  CHECK(cursor.epoch() == 3);
}
