// The helpers the chorus subcommands share (tools/chorus): statistics of measurements.
#include <doctest/doctest.h>

#include <vector>

#include "tools/chorus/statistics.h"

using chorus::tools::median;
using chorus::tools::percentile;

TEST_CASE("median: the middle value, the mean of the middle two for an even count") {
  CHECK(median({}) == 0);
  CHECK(median({3}) == 3);
  CHECK(median({5, 1, 3}) == 3);
  CHECK(median({4, 1, 3, 2}) == 2.5);
  CHECK(median({10, 1}) == 5.5);
}

TEST_CASE("percentile: the sorted value at floor(q n), the largest past the end") {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  CHECK(percentile({}, 0.5) == 0);
  CHECK(percentile(v, 0) == 1);
  CHECK(percentile(v, 0.99) == 100);
  CHECK(percentile(v, 0.5) == 51);
  CHECK(percentile(v, 1) == 100);
}
