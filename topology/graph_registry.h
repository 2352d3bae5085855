#pragma once
// The graph registry (foundations/base/registry.h): every topology graph by name, each record
// added by the graph's own file. make_graph builds one; --graph and `chorus topology` list them.
#include <functional>
#include <memory>
#include <string>

#include "foundations/base/registry.h"
#include "topology/graph.h"

namespace chorus {

struct GraphRecord {
  std::string name;
  std::string description;
  int order = 0;
  // Throws UserError for options the graph cannot take (no file, a degree of 0).
  std::function<std::unique_ptr<Graph>(const GraphOptions&)> make;
};

Registry<GraphRecord>& graph_registry();

}  // namespace chorus
