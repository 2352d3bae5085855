#pragma once
// Options that several strategies declare alike (strategy_registry.h): how parameter merges run
// (--overlap, --dynamic-weights) and how peers are grouped (--groups). One declaration each,
// so the flag, its help and its range are the same for every strategy that takes it.
#include <string>

#include "foundations/base/option_set.h"

namespace chorus {

// For every strategy that averages parameters.
struct MergeOptions {
  int overlap = -1;              // staleness bound S of overlapped merges (overlapped_merge.h); -1: synchronous
  bool dynamic_weights = false;  // weight contributions by how current their senders are (dynamic_weights.h)
  void declare(OptionSet& set);
};

// --groups host | label | size:N (topology/groups.h), checked when set.
void declare_groups_option(OptionSet& set, std::string& groups);

}  // namespace chorus
