// `chorus topology`: degree, diameter and mixing speed (SLEM) of the peer graphs for given
// peer counts, and optionally each member's neighbours, partner and group.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "foundations/base/error.h"
#include "tools/chorus/command.h"
#include "tools/chorus/option_checks.h"
#include "topology/graph.h"
#include "topology/groups.h"
#include "topology/topology_metrics.h"

namespace chorus::tools {
namespace {

struct TopologyOptions {
  std::vector<std::size_t> peers;
  std::vector<std::string> graphs;
  std::size_t degree = 4;
  std::string graph_file;
  std::size_t hosts = 1;
  bool list = false;
  std::uint64_t round = 0;
  std::string groups;
};

std::string degree_text(const TopologyMetrics& m) {
  return m.min_degree == m.max_degree ? fmt::format("{}", m.max_degree)
                                      : fmt::format("{}-{}", m.min_degree, m.max_degree);
}

std::string diameter_text(const TopologyMetrics& m) {
  if (!m.diameter) return "inf";
  return fmt::format("{}{}", *m.diameter, m.diameter_in_rounds ? "r" : "");
}

std::string id_list(const View& view, const std::vector<std::size_t>& members) {
  std::vector<PeerId> ids;
  for (std::size_t i : members) ids.push_back(view.members[i].id);
  return fmt::format("{}", fmt::join(ids, " "));
}

void list_members(const Graph& graph, const View& view, std::uint64_t round) {
  const Adjacency edges = graph.round_edges(view, round);
  const Matching matching = graph.matching(view, round);
  fmt::print("  {} on {} peers, round {}:\n", graph.name(), view.size(), round);
  for (std::size_t i = 0; i < view.size(); ++i) {
    const Member& m = view.members[i];
    fmt::print("    peer {:>4} {:<24} -> {}", m.id, m.address, id_list(view, edges[i]));
    if (matching[i] != kNoPartner)
      fmt::print("   partner {}", view.members[matching[i]].id);
    else
      fmt::print("   partner none");
    fmt::print("\n");
  }
}

void list_groups(const View& view, const std::string& rule_text, const GroupRule& rule) {
  const std::vector<Group> groups = make_groups(view, rule);
  fmt::print("groups ({}) of {} peers:\n", rule_text, view.size());
  for (const Group& g : groups)
    fmt::print("  {:<20} {:>4} members, representative {}: {}\n", g.name, g.members.size(),
               view.members[g.representative()].id, id_list(view, g.members));
}

int run_topology(const TopologyOptions& o) {
  const GroupRule group_rule = parse_group_rule(o.groups.empty() ? "host" : o.groups);
  GraphOptions graph_options;
  graph_options.random_degree = o.degree;
  graph_options.file = o.graph_file;
  std::vector<std::string> names = o.graphs;
  if (names.empty()) {
    // Every registered graph; the file graph only when there is a file to read.
    for (const std::string& name : graph_names())
      if (name != "file" || !o.graph_file.empty()) names.push_back(name);
  }
  std::vector<std::unique_ptr<Graph>> graphs;
  for (const std::string& name : names) graphs.push_back(make_graph(name, graph_options));

  std::vector<View> views;
  for (std::size_t n : o.peers) views.push_back(synthetic_view(n, o.hosts));
  if (views.empty()) {
    if (o.graph_file.empty())
      throw UserError("topology: give --peers N (one or more) or a --graph-file to take peers from");
    View view;
    view.number = 1;
    PeerId id = 1;
    for (const std::string& address : graph_file_addresses(o.graph_file))
      view.members.push_back({id++, address, "", 0});
    views.push_back(std::move(view));
  }

  fmt::print("{:<12} {:>6} {:>7} {:>9} {:>10} {:>10} {:>16}\n", "graph", "peers", "degree",
             "diameter", "slem", "gap", "slem/round (τ)");
  for (const auto& graph : graphs) {
    for (const View& view : views) {
      for (const std::string& warning : graph->warnings(view))
        std::fprintf(stderr, "chorus: warning: %s\n", warning.c_str());
      const TopologyMetrics m = measure_topology(*graph, view);
      fmt::print("{:<12} {:>6} {:>7} {:>9} {:>10.6f} {:>10.6f} {:>11.6f} ({})\n", graph->name(),
                 m.members, degree_text(m), diameter_text(m), m.slem, 1 - m.slem,
                 m.slem_per_round, m.period);
      std::fflush(stdout);
      if (o.list) list_members(*graph, view, o.round);
    }
  }
  fmt::print(
      "\ndegree: peers a member sends to in round 0. diameter: hops between the farthest two "
      "members;\n  'Nr' for time-varying graphs: rounds until every value has reached every "
      "member.\nslem: second-largest eigenvalue modulus of round 0's mixing matrix "
      "(Metropolis-Hastings\n  weights; exponential: (I+P)/2); gap = 1 - slem. slem/round: "
      "||W_τ-1..W_0 - J||^(1/τ) over\n  τ = ceil(log2 N) rounds of a time-varying graph, the "
      "slem itself for a static one.\n");
  if (!o.groups.empty())
    for (const View& view : views) list_groups(view, o.groups, group_rule);
  return 0;
}

const bool registered = register_command(
    {"topology", "Show peer graphs: degree, diameter and spectral gap (SLEM) for N peers",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<TopologyOptions>();
       app.add_option("--peers", o->peers, "Peer counts to measure, up to 4096 (e.g. --peers 8,64,1024)")
           ->delimiter(',')
           ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
       app.add_option("--graph", o->graphs,
                      "Graphs: ring, complete, random, exponential, torus, file (default: all "
                      "but file, and file when --graph-file is given)")
           ->delimiter(',');
       app.add_option("--degree", o->degree, "k of the random graph")
           ->check(at_least(std::size_t{1}))
           ->capture_default_str();
       app.add_option("--graph-file", o->graph_file,
                      "Edge list for the file graph: one \"ADDR ADDR\" per line, # comments. "
                      "Without --peers the peers are the file's addresses");
       app.add_option("--hosts", o->hosts,
                      "Spread the synthetic peers over this many hosts (10.0.x.y)")
           ->check(CLI::Range(std::size_t{1}, std::size_t{65535}))
           ->capture_default_str();
       app.add_flag("--list", o->list, "Also list each peer's neighbours and partner");
       app.add_option("--round", o->round, "Round for --list")->capture_default_str();
       app.add_option("--groups", o->groups, "Also list the groups: host, label or size:K");
       return [o] { return run_topology(*o); };
     }});

}  // namespace
}  // namespace chorus::tools
