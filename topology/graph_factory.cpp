// make_graph: graphs by name.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "foundations/base/error.h"
#include "topology/graph_kinds.h"

namespace chorus {

const std::vector<std::string>& graph_names() {
  static const std::vector<std::string> names = {"ring",  "complete", "random", "exponential",
                                                 "torus", "file"};
  return names;
}

std::unique_ptr<Graph> make_graph(std::string_view name, const GraphOptions& options) {
  using namespace topology_detail;
  if (name == "ring") return make_ring_graph();
  if (name == "complete") return make_complete_graph();
  if (name == "random") {
    if (options.random_degree < 1)
      throw UserError("random graph degree must be at least 1");
    return make_random_graph(options.random_degree);
  }
  if (name == "exponential") return make_exponential_graph();
  if (name == "torus") return make_torus_graph();
  if (name == "file") {
    if (options.file.empty())
      throw UserError("graph 'file' needs the path of an edge list (--graph-file)");
    return make_file_graph(options.file);
  }
  throw UserError(fmt::format("unknown graph '{}'; valid graphs: {}", name,
                              fmt::join(graph_names(), ", ")));
}

}  // namespace chorus
