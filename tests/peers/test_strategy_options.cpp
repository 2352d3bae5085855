// check_strategy_options: what every strategy would refuse when it is made, refused before any
// peer starts, in the same words.
#include <doctest/doctest.h>

#include <string>

#include "foundations/base/error.h"
#include "peers/exchange/strategy.h"

using chorus::StrategyOptions;

namespace {

StrategyOptions named(const std::string& name) {
  StrategyOptions o;
  o.name = name;
  return o;
}

std::string refusal(const StrategyOptions& o) {
  try {
    chorus::check_strategy_options(o);
  } catch (const chorus::UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every strategy at its defaults passes") {
  for (const std::string& name : chorus::strategy_names()) CHECK_MESSAGE(refusal(named(name)).empty(), name);
}

TEST_CASE("an unknown strategy is refused with the list of known ones") {
  const std::string why = refusal(named("no-such-strategy"));
  CHECK(why.find("unknown strategy 'no-such-strategy' (choose one of: ") == 0);
  for (const std::string& name : chorus::strategy_names()) CHECK(why.find(name) != std::string::npos);
}

TEST_CASE("options out of range are refused for the strategies that read them") {
  auto o = named("kavg");
  o.k = 0;
  CHECK(refusal(o).find("--k must be at least 1") != std::string::npos);
  o = named("hier");
  o.k1 = 3;
  o.k2 = 4;
  CHECK(refusal(o).find("a multiple of --k1") != std::string::npos);
  o = named("easgd");
  o.alpha = 0;
  CHECK(refusal(o).find("--alpha must be in (0, 1]") != std::string::npos);
  o = named("elastic-gossip");
  o.p = 1.5f;
  CHECK(refusal(o).find("--p must be in [0, 1]") != std::string::npos);
  o = named("gossip");
  o.gossip = "sideways";
  CHECK(refusal(o).find("--gossip must be pull or push") != std::string::npos);
  o = named("gossip");
  o.graph = "/no/such/graph-file";
  CHECK(refusal(o).find("/no/such/graph-file") != std::string::npos);
  o = named("lsgd");
  o.lambda_local = 0.6f;
  o.lambda_global = 0.6f;
  CHECK(refusal(o).find("at most 1") != std::string::npos);
  o = named("lsgd");
  o.groups = "rack";
  CHECK_FALSE(refusal(o).empty());
  o = named("allreduce");
  o.overlap = 2;
  CHECK(refusal(o).find("nothing to overlap") != std::string::npos);
  o = named("local");
  o.overlap = -2;
  CHECK(refusal(o).find("--overlap must be -1") != std::string::npos);
}

TEST_CASE("options a strategy does not read are not its to refuse") {
  auto o = named("local");
  o.k = 0;
  o.gossip = "sideways";
  o.groups = "rack";
  o.graph = "/no/such/graph-file";
  CHECK(refusal(o).empty());
  o = named("kavg");
  o.overlap = 2;  // kavg overlaps its averages; only allreduce refuses an overlap
  CHECK(refusal(o).empty());
}
