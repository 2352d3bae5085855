#include "peers/exchange/strategy_registry.h"

#include "foundations/base/error.h"
#include "peers/exchange/readiness.h"

namespace chorus {

Registry<StrategyRecord>& strategy_registry() {
  static Registry<StrategyRecord> registry("strategy");
  return registry;
}

void StrategySettings::set(std::string_view name, std::string_view text) {
  if (!options_.find(name))
    throw UserError("--" + std::string(name) + " is not an option of " + strategy_ +
                    (options_.specs().empty() ? std::string(", which has none")
                                              : " (its options: " + options_.flags() + ")"));
  options_.set(name, text);
}

std::unique_ptr<StrategySettings> strategy_settings(std::string_view name,
                                                    const std::vector<std::pair<std::string, std::string>>& options) {
  std::unique_ptr<StrategySettings> settings = strategy_registry().get(name).settings();
  for (const auto& [option, value] : options) settings->set(option, value);
  settings->check();
  return settings;
}

std::unique_ptr<Strategy> make_strategy(PeerServices& services, const StrategySettings& settings) {
  const StrategyRecord& record = strategy_registry().get(settings.strategy());
  settings.check();
  std::unique_ptr<Strategy> strategy = record.make(services, settings);
  readiness::announce(services.membership, settings.strategy());  // its threads run: others may exchange with it
  return strategy;
}

}  // namespace chorus
