#pragma once
// Every graph the topology tests sweep: the built-in ones (random with several degrees) and a
// file graph over part of the members of the views the tests build.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "tests/topology/view_fixtures.h"
#include "topology/graph.h"

namespace topology_test {

struct GraphSpec {
  std::string label;  // for messages
  std::string name;   // for make_graph
  chorus::GraphOptions options;
  std::unique_ptr<chorus::Graph> make() const { return chorus::make_graph(name, options); }
};

// A file graph over the addresses member_with_id() gives ids 1..40 (a star around id 1, a
// path 2-3-...-12, and an address that no view has) so views mix listed and unlisted members.
inline std::string write_sample_graph_file(const chorus_test::TempDir& dir) {
  const std::string path = dir / "edges.txt";
  std::ofstream out(path);
  out << "# sample graph\n\n";
  for (chorus::PeerId id = 2; id <= 20; ++id)
    out << member_with_id(1).address << " " << member_with_id(id).address << "\n";
  for (chorus::PeerId id = 2; id < 12; ++id)
    out << "  " << member_with_id(id).address << "\t" << member_with_id(id + 1).address
        << "   # path\n";
  out << "tcp://192.0.2.1:9 " << member_with_id(3).address << "\n";
  return path;
}

inline std::vector<GraphSpec> all_graph_specs(const std::string& graph_file) {
  std::vector<GraphSpec> specs;
  specs.push_back({"ring", "ring", {}});
  specs.push_back({"complete", "complete", {}});
  for (std::size_t k : {1, 2, 3, 4, 7}) {
    chorus::GraphOptions o;
    o.random_degree = k;
    specs.push_back({"random k=" + std::to_string(k), "random", o});
  }
  specs.push_back({"exponential", "exponential", {}});
  specs.push_back({"torus", "torus", {}});
  chorus::GraphOptions file;
  file.file = graph_file;
  specs.push_back({"file", "file", file});
  return specs;
}

// Views with small ids 1..n, so the sample graph file names some of their members.
inline chorus::View small_id_view(std::size_t n) {
  chorus::View view;
  view.number = 7;
  for (chorus::PeerId id = 1; id <= n; ++id) view.members.push_back(member_with_id(id));
  return view;
}

}  // namespace topology_test
