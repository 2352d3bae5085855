// The file graph: a user-given undirected edge list of member addresses, with the ring
// fallback for members it leaves without a neighbour (see graph.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "foundations/base/error.h"
#include "topology/graph_kinds.h"
#include "topology/graph_registry.h"
#include "topology/hash_order.h"

namespace chorus::topology_detail {
namespace {

struct AddressEdge {
  std::string a;
  std::string b;
};

std::vector<AddressEdge> read_edge_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(fmt::format("graph file {}: cannot be read", path));
  std::vector<AddressEdge> edges;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const std::size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::vector<std::string> tokens;
    for (std::string w; words >> w;) tokens.push_back(std::move(w));
    if (tokens.empty()) continue;
    if (tokens.size() != 2)
      throw UserError(fmt::format("{}:{}: expected one edge \"ADDR ADDR\", found {} word{}", path,
                                  number, tokens.size(), tokens.size() == 1 ? "" : "s"));
    if (tokens[0] == tokens[1])
      throw UserError(fmt::format("{}:{}: edge from {} to itself", path, number, tokens[0]));
    edges.push_back({std::move(tokens[0]), std::move(tokens[1])});
  }
  if (in.bad()) throw UserError(fmt::format("graph file {}: read error", path));
  return edges;
}

class FileGraph final : public Graph {
 public:
  explicit FileGraph(std::string path) : path_(std::move(path)), edges_(read_edge_list(path_)) {}

  std::string name() const override { return "file"; }
  bool round_dependent() const override { return false; }

  Adjacency round_edges(const View& view, std::uint64_t) const override {
    const std::size_t n = view.size();
    const std::map<std::string, std::size_t> index = address_index(view);
    Adjacency edges(n);
    for (const AddressEdge& e : edges_) {
      const auto a = index.find(e.a);
      const auto b = index.find(e.b);
      if (a != index.end() && b != index.end() && a->second != b->second)
        link(edges, a->second, b->second);
    }
    // The ring fallback: whoever the file leaves alone joins its hash-ring neighbours.
    const Adjacency ring = circle_edges(hash_order(view), n);
    std::vector<bool> alone(n);
    for (std::size_t i = 0; i < n; ++i) alone[i] = edges[i].empty();
    for (std::size_t i = 0; i < n; ++i)
      if (alone[i])
        for (std::size_t j : ring[i]) link(edges, i, j);
    normalize(edges);
    return edges;
  }

  std::vector<std::string> warnings(const View& view) const override {
    const std::map<std::string, std::size_t> index = address_index(view);
    std::set<std::string> unknown;
    for (const AddressEdge& e : edges_)
      for (const std::string* address : {&e.a, &e.b})
        if (!index.count(*address)) unknown.insert(*address);
    std::vector<std::string> out;
    if (!unknown.empty())
      out.push_back(fmt::format("graph file {}: {} address{} not in view {}, their edges ignored: {}",
                                path_, unknown.size(), unknown.size() == 1 ? "" : "es",
                                view.number, fmt::join(unknown, ", ")));
    std::set<std::string> mentioned;
    for (const AddressEdge& e : edges_) mentioned.insert({e.a, e.b});
    std::vector<std::string> missing;
    for (const Member& m : view.members)
      if (!mentioned.count(m.address)) missing.push_back(m.address);
    if (!missing.empty())
      out.push_back(fmt::format("graph file {}: {} member{} not in the file, linked to their ring "
                                "neighbours: {}",
                                path_, missing.size(), missing.size() == 1 ? "" : "s",
                                fmt::join(missing, ", ")));
    return out;
  }

 private:
  static std::map<std::string, std::size_t> address_index(const View& view) {
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < view.size(); ++i) index.emplace(view.members[i].address, i);
    return index;
  }

  std::string path_;
  std::vector<AddressEdge> edges_;
};

const bool registered = graph_registry().add(
    {"file", "a user-given edge list (one \"ADDR ADDR\" per line)", 60,
     [](const GraphOptions& o) -> std::unique_ptr<Graph> {
       if (o.file.empty()) throw UserError("graph 'file' needs the path of an edge list (--graph-file)");
       return std::make_unique<FileGraph>(o.file);
     }});

}  // namespace

}  // namespace chorus::topology_detail

namespace chorus {

std::vector<std::string> graph_file_addresses(const std::string& path) {
  std::vector<std::string> addresses;
  std::set<std::string> seen;
  for (const auto& e : topology_detail::read_edge_list(path))
    for (const std::string* address : {&e.a, &e.b})
      if (seen.insert(*address).second) addresses.push_back(*address);
  return addresses;
}

}  // namespace chorus
