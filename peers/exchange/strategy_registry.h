#pragma once
// The strategy registry: every strategy is one record — its name, family and description, its
// own option struct with defaults and ranges, and its factory — added by the strategy's own
// file:
//
//   struct KavgOptions {
//     int k = 8;
//     MergeOptions merge;
//     void declare(OptionSet& set) { set.integer("k", k, "Average every K steps", 1, 1000000); merge.declare(set); }
//     void check() const {}
//   };
//   class KavgStrategy : public Strategy { public: KavgStrategy(PeerServices&, const KavgOptions&); … };
//   const bool registered = register_strategy<KavgStrategy, KavgOptions>(
//       {"kavg", "ring", "average the parameters every K steps (K-AVG)", 20});
//
// so adding a strategy is one new file and one line in its area's meson.build: `chorus peer
// --help`, the options `chorus peer` accepts, `chorus compare`'s default list and the tests'
// strategy lists all come from here.
//
// Options are set by name from text (OptionSet), then checked as a whole (Options::check, for
// combinations no single option can check), before any strategy is built: the same messages
// whether a value comes from the command line, `chorus compare`, or a test.
// Threading: records are added before main(); the registry is then read-only. Settings
// objects are used by one thread while configuring.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foundations/base/option_set.h"
#include "foundations/base/registry.h"
#include "peers/exchange/strategy.h"

namespace chorus {

// One strategy's options: its typed option struct (at its defaults until set) and the OptionSet
// bound to it. Not copyable: the set refers to the struct.
class StrategySettings {
 public:
  virtual ~StrategySettings() = default;
  StrategySettings(const StrategySettings&) = delete;
  StrategySettings& operator=(const StrategySettings&) = delete;

  const std::string& strategy() const { return strategy_; }
  const OptionSet& options() const { return options_; }
  // Sets one option from text; UserError naming the strategy when it has no such option (with
  // the ones it has) or the value is bad.
  void set(std::string_view name, std::string_view text);
  // Checks what single options cannot; UserError.
  virtual void check() const = 0;

 protected:
  explicit StrategySettings(std::string strategy) : strategy_(std::move(strategy)) {}
  OptionSet options_;

 private:
  std::string strategy_;
};

// StrategySettings over the option struct `Options`, which provides
// `void declare(OptionSet&)` (binding every field) and `void check() const`.
template <typename Options>
class SettingsOf final : public StrategySettings {
 public:
  explicit SettingsOf(std::string strategy) : StrategySettings(std::move(strategy)) { values.declare(options_); }
  void check() const override { values.check(); }
  Options values;
};

struct StrategyRecord {
  std::string name;
  std::string description;
  int order = 0;
  std::string family;      // "ring", "elastic", "gossip", "leader", "baseline", "none"
  bool exchanges = true;   // false for `local`, which `chorus compare` leaves out by default
  // This strategy's settings at their defaults.
  std::function<std::unique_ptr<StrategySettings>()> settings;
  // The strategy, from settings made by `settings` (set and checked).
  std::function<std::unique_ptr<Strategy>(PeerServices&, const StrategySettings&)> make;
};

Registry<StrategyRecord>& strategy_registry();

// What a strategy file registers (see the example above).
struct StrategyDefinition {
  std::string name;
  std::string family;
  std::string description;
  int order = 0;
  bool exchanges = true;
};

// Registers the strategy StrategyType, built as StrategyType(PeerServices&, const Options&).
template <typename StrategyType, typename Options>
bool register_strategy(StrategyDefinition d) {
  StrategyRecord r;
  r.name = d.name;
  r.description = std::move(d.description);
  r.order = d.order;
  r.family = std::move(d.family);
  r.exchanges = d.exchanges;
  r.settings = [name = d.name]() -> std::unique_ptr<StrategySettings> {
    return std::make_unique<SettingsOf<Options>>(name);
  };
  r.make = [](PeerServices& services, const StrategySettings& settings) -> std::unique_ptr<Strategy> {
    return std::make_unique<StrategyType>(services, static_cast<const SettingsOf<Options>&>(settings).values);
  };
  return strategy_registry().add(std::move(r));
}

// The settings of strategy `name` (UserError for an unknown one) with the given options set
// (name without dashes, value as text; "" for a flag) and checked.
std::unique_ptr<StrategySettings> strategy_settings(
    std::string_view name, const std::vector<std::pair<std::string, std::string>>& options = {});

// Builds the strategy `settings` describe (checking them first), and announces through
// membership that this peer runs it (readiness.h).
std::unique_ptr<Strategy> make_strategy(PeerServices& services, const StrategySettings& settings);

}  // namespace chorus
