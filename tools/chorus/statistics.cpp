#include "tools/chorus/statistics.h"

#include <algorithm>

namespace chorus::tools {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::max(0.0, q) * static_cast<double>(values.size()));
  return values[std::min(values.size() - 1, rank)];
}

}  // namespace chorus::tools
