#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <utility>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_kinds.h"
#include "topology/graph.h"
#include "topology/groups.h"

namespace chorus {
namespace {

using Factory = std::unique_ptr<Strategy> (*)(PeerServices&);

const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> list = {
      {"local", make_local_strategy},
      {"elastic-gossip", make_elastic_gossip_strategy},
      {"gossip", make_gossip_strategy},
      {"easgd", make_easgd_strategy},
      {"lsgd", make_lsgd_strategy},
      {"downpour", make_downpour_strategy},
      {"allreduce", make_allreduce_strategy},
      {"kavg", make_kavg_strategy},
      {"hier", make_hier_strategy},
  };
  return list;
}

}  // namespace

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

void check_strategy_options(const StrategyOptions& o) {
  const std::vector<std::string> names = strategy_names();
  if (std::find(names.begin(), names.end(), o.name) == names.end())
    throw UserError(fmt::format("unknown strategy '{}' (choose one of: {})", o.name, fmt::join(names, ", ")));
  const auto is = [&](std::initializer_list<const char*> family) {
    return std::any_of(family.begin(), family.end(), [&](const char* n) { return o.name == n; });
  };
  const int tau = o.tau == 0 ? default_tau(o.name) : o.tau;
  const bool periodic = is({"gossip", "easgd", "lsgd", "downpour"}) || (o.name == "elastic-gossip" && o.p == 0);
  if (periodic && tau < 1) throw UserError(fmt::format("--tau must be at least 1 (got {})", o.tau));
  if (o.overlap < -1)
    throw UserError(fmt::format("--overlap must be -1 (synchronous) or at least 0 steps (got {})", o.overlap));
  if (o.name == "allreduce" && o.overlap >= 0)
    throw UserError("allreduce averages the gradients inside every step, so --overlap has nothing to overlap; "
                    "use kavg --k 1 --overlap S to average parameters beside training");
  if (o.name == "kavg" && o.k < 1) throw UserError(fmt::format("--k must be at least 1 for kavg (got {})", o.k));
  if (o.name == "hier" && (o.k1 < 1 || o.k2 < 1 || o.k2 % o.k1 != 0))
    throw UserError(fmt::format("hier: --k1 and --k2 must be at least 1 and --k2 a multiple of --k1 (got {} and {})",
                                o.k1, o.k2));
  if (is({"elastic-gossip", "easgd"}) && !(o.alpha > 0 && o.alpha <= 1))
    throw UserError(fmt::format("--alpha must be in (0, 1] for {} (got {})", o.name, o.alpha));
  if (o.name == "elastic-gossip" && !(o.p >= 0 && o.p <= 1))
    throw UserError(fmt::format("--p must be in [0, 1] (got {})", o.p));
  if (o.name == "gossip" && o.gossip != "pull" && o.gossip != "push")
    throw UserError("--gossip must be pull or push, not '" + o.gossip + "'");
  if (o.name == "lsgd") {
    for (const auto& [flag, v] : {std::pair{"--lambda", o.lambda}, std::pair{"--lambda-local", o.lambda_local},
                                  std::pair{"--lambda-global", o.lambda_global}})
      if (!(v >= 0 && v <= 1)) throw UserError(fmt::format("{} must be in [0, 1] (got {})", flag, v));
    if (o.lambda_local + o.lambda_global > 1)
      throw UserError("--lambda-local plus --lambda-global must be at most 1");
  }
  // The ring family and lsgd group the peers; the gossip family picks partners on a graph.
  if (is({"allreduce", "kavg", "hier", "lsgd"})) parse_group_rule(o.groups);
  if (is({"elastic-gossip", "gossip"})) {  // a graph's name, or the path of an edge list
    const auto& graphs = graph_names();
    GraphOptions file;
    file.file = o.graph;
    if (std::find(graphs.begin(), graphs.end(), o.graph) != graphs.end()) make_graph(o.graph);
    else make_graph("file", file);
  }
}

int default_tau(const std::string& strategy) { return strategy == "lsgd" ? 1 : 4; }

std::unique_ptr<Strategy> make_strategy(PeerServices& services) {
  if (services.options.tau == 0) services.options.tau = default_tau(services.options.name);
  for (const auto& [name, factory] : factories())
    if (name == services.options.name) return factory(services);
  throw UserError(fmt::format("unknown strategy '{}' (choose one of: {})", services.options.name,
                              fmt::join(strategy_names(), ", ")));
}

}  // namespace chorus
