#pragma once
// Order statistics of a benchmark's repeated measurements (times, rates). Pure functions of
// their arguments: no state, safe from any thread.
#include <vector>

namespace chorus::tools {

// The conventional median: the middle value of the sorted values, or the mean of the middle
// two when there is an even number of them; 0 for no values.
double median(std::vector<double> values);

// The q-quantile (q in [0, 1]) by rank: the sorted value at index floor(q · n), the largest
// value when that is past the end; 0 for no values. percentile(v, 0.99) of 2000 round trips is
// the 1981st smallest.
double percentile(std::vector<double> values, double q);

}  // namespace chorus::tools
