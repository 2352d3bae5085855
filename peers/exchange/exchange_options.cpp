#include "peers/exchange/exchange_options.h"

#include "topology/groups.h"

namespace chorus {

void MergeOptions::declare(OptionSet& set) {
  set.integer("overlap", overlap,
              "Merge on a communication thread while training goes on, waiting only when a merge is N steps "
              "old (-1: synchronous)",
              -1, 1000000);
  set.flag("dynamic-weights", dynamic_weights, "Weight each peer's contribution by how current it is");
}

void declare_groups_option(OptionSet& set, std::string& groups) {
  set.text("groups", groups, "How peers are grouped: host, label (--group), or size:N",
           [](const std::string& text) { parse_group_rule(text); });
}

}  // namespace chorus
