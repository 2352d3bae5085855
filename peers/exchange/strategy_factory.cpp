#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_kinds.h"

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

int default_tau(const std::string& strategy) { return strategy == "lsgd" ? 1 : 4; }

std::unique_ptr<Strategy> make_strategy(PeerServices& services) {
  if (services.options.tau == 0) services.options.tau = default_tau(services.options.name);
  for (const auto& [name, factory] : factories())
    if (name == services.options.name) return factory(services);
  throw UserError(fmt::format("unknown strategy '{}' (choose one of: {})", services.options.name,
                              fmt::join(strategy_names(), ", ")));
}

}  // namespace chorus
