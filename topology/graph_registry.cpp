// make_graph: graphs by name, from the graph registry.
#include "topology/graph_registry.h"

namespace chorus {

Registry<GraphRecord>& graph_registry() {
  static Registry<GraphRecord> registry("graph");
  return registry;
}

std::vector<std::string> graph_names() { return graph_registry().names(); }

std::unique_ptr<Graph> make_graph(std::string_view name, const GraphOptions& options) {
  return graph_registry().get(name).make(options);
}

}  // namespace chorus
