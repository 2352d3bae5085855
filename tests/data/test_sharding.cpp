// shard_indices and the portable generator under it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "foundations/base/error.h"
#include "foundations/base/portable_rng.h"
#include "foundations/data/batch_cursor.h"
#include "foundations/data/dataset.h"
#include "foundations/data/shard_indices.h"

TEST_CASE("SplitMix64 matches the reference sequence") {
  // First outputs of the reference SplitMix64 (Vigna, splitmix64.c) seeded with 0.
  chorus::SplitMix64 rng(0);
  CHECK(rng.next() == 0xE220A8397B1DCDAFull);
  CHECK(rng.next() == 0x6E789E6AA1B965F4ull);
  CHECK(rng.next() == 0x06C45D188009454Full);
}

TEST_CASE("splitmix64 is the first output of a generator seeded with its argument") {
  CHECK(chorus::splitmix64(0) == 0xE220A8397B1DCDAFull);
  CHECK(chorus::splitmix64(0x9E3779B97F4A7C15ull) == 0x6E789E6AA1B965F4ull);
  for (std::uint64_t x : {std::uint64_t{1}, std::uint64_t{12345}, ~std::uint64_t{0}})
    CHECK(chorus::splitmix64(x) == chorus::SplitMix64(x).next());
}

TEST_CASE("uniform_below stays in range and is not visibly biased") {
  chorus::SplitMix64 rng(7);
  for (int i = 0; i < 100; ++i) CHECK(rng.uniform_below(1) == 0);
  const std::uint64_t huge = (1ull << 63) + 12345;
  for (int i = 0; i < 1000; ++i) CHECK(rng.uniform_below(huge) < huge);

  constexpr int kBuckets = 6, kDraws = 600000;
  std::vector<int> hits(kBuckets, 0);
  for (int i = 0; i < kDraws; ++i) ++hits[rng.uniform_below(kBuckets)];
  double chi2 = 0;
  for (int h : hits) {
    const double expected = double{kDraws} / kBuckets;
    chi2 += (h - expected) * (h - expected) / expected;
  }
  CHECK(chi2 < 25.0);  // 5 degrees of freedom; p < 0.0002 to fail by chance
}

TEST_CASE("shards are disjoint, cover everything once and are balanced") {
  for (std::size_t n : {0u, 1u, 7u, 100u, 60000u}) {
    for (int count : {1, 2, 3, 8, 13}) {
      CAPTURE(n);
      CAPTURE(count);
      std::vector<int> seen(n, 0);
      std::size_t smallest = n + 1, largest = 0;
      for (int index = 0; index < count; ++index) {
        const auto shard = chorus::shard_indices(n, 42, index, count);
        smallest = std::min(smallest, shard.size());
        largest = std::max(largest, shard.size());
        for (std::uint32_t i : shard) {
          REQUIRE(i < n);
          ++seen[i];
        }
      }
      CHECK(largest - smallest <= 1);
      CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
    }
  }
}

TEST_CASE("shards depend only on their inputs") {
  const auto a = chorus::shard_indices(1000, 99, 2, 5);
  CHECK(a == chorus::shard_indices(1000, 99, 2, 5));
  CHECK(a != chorus::shard_indices(1000, 100, 2, 5));  // another seed
  CHECK(a != chorus::shard_indices(1000, 99, 3, 5));   // another shard
  // Shuffled, not a contiguous or sorted slice.
  CHECK_FALSE(std::is_sorted(a.begin(), a.end()));
  // One shard of one is the whole permutation, not the identity.
  const auto whole = chorus::shard_indices(1000, 99, 0, 1);
  CHECK(whole.size() == 1000);
  std::vector<std::uint32_t> identity(1000);
  for (std::uint32_t i = 0; i < 1000; ++i) identity[i] = i;
  CHECK(whole != identity);
}

TEST_CASE("invalid shard requests are user errors") {
  CHECK_THROWS_AS(chorus::shard_indices(10, 1, 0, 0), chorus::UserError);
  CHECK_THROWS_AS(chorus::shard_indices(10, 1, 0, -3), chorus::UserError);
  CHECK_THROWS_AS(chorus::shard_indices(10, 1, 4, 4), chorus::UserError);
  CHECK_THROWS_AS(chorus::shard_indices(10, 1, -1, 4), chorus::UserError);
  try {
    chorus::shard_indices(10, 1, 5, 4);
    FAIL("no error");
  } catch (const chorus::UserError& e) {
    CHECK(std::string(e.what()) == "shard index 5 is out of range for 4 shards (must be 0..3)");
  }
}

// Shards and batch orders must be identical on every platform and across chorus versions
// (a resumed or re-run peer depends on it). These values were checked against an
// independent model of the algorithm (SplitMix64, rejection draw, Fisher-Yates from the top).
TEST_CASE("draws, shards and epoch orders are pinned") {
  chorus::SplitMix64 rng(0);
  std::vector<std::uint64_t> draws;
  for (int i = 0; i < 8; ++i) draws.push_back(rng.uniform_below(10));
  CHECK(draws == std::vector<std::uint64_t>{5, 0, 9, 4, 7, 0, 3, 0});

  CHECK(chorus::shard_indices(12, 42, 0, 1) ==
        std::vector<std::uint32_t>{6, 1, 10, 4, 9, 5, 2, 8, 11, 7, 3, 0});
  CHECK(chorus::shard_indices(12, 42, 1, 5) == std::vector<std::uint32_t>{1, 2, 0});

  chorus::BatchCursor cursor({10, 11, 12, 13, 14, 15, 16, 17}, 5);
  CHECK(cursor.next(8) == std::vector<std::uint32_t>{16, 17, 11, 10, 15, 12, 14, 13});
  CHECK(cursor.next(8) == std::vector<std::uint32_t>{11, 14, 12, 17, 16, 13, 15, 10});
}
