// strategy_settings: what every strategy refuses, refused from its record before any strategy
// (or any peer) is built, in the same words whether the options come from the command line,
// `chorus compare` or a test.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "foundations/base/error.h"
#include "peers/exchange/strategy_registry.h"

namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

std::string refusal(const std::string& name, const Options& options = {}) {
  try {
    chorus::strategy_settings(name, options);
  } catch (const chorus::UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every strategy at its defaults passes") {
  for (const std::string& name : chorus::strategy_registry().names()) CHECK_MESSAGE(refusal(name).empty(), name);
}

TEST_CASE("an unknown strategy is refused with the list of known ones") {
  const std::string why = refusal("no-such-strategy");
  CHECK(why.find("unknown strategy 'no-such-strategy' (choose one of: ") == 0);
  for (const std::string& name : chorus::strategy_registry().names()) CHECK(why.find(name) != std::string::npos);
}

TEST_CASE("options out of range are refused for the strategies that take them") {
  CHECK(refusal("kavg", {{"k", "0"}}) == "--k must be an integer from 1 to 1000000, not '0'");
  CHECK(refusal("hier", {{"k1", "3"}, {"k2", "4"}}).find("a multiple of --k1") != std::string::npos);
  CHECK(refusal("easgd", {{"alpha", "0"}}) == "--alpha must be a number in (0, 1], not '0'");
  CHECK(refusal("elastic-gossip", {{"p", "1.5"}}) == "--p must be a number in [0, 1], not '1.5'");
  CHECK(refusal("gossip", {{"gossip", "sideways"}}) == "--gossip must be one of pull, push, not 'sideways'");
  CHECK(refusal("gossip", {{"graph", "/no/such/graph-file"}}).find("/no/such/graph-file") != std::string::npos);
  CHECK(refusal("lsgd", {{"lambda-local", "0.6"}, {"lambda-global", "0.6"}}).find("at most 1") != std::string::npos);
  CHECK_FALSE(refusal("lsgd", {{"groups", "rack"}}).empty());
  CHECK(refusal("kavg", {{"overlap", "-2"}}) == "--overlap must be an integer from -1 to 1000000, not '-2'");
}

TEST_CASE("an option a strategy does not take is refused, naming the ones it takes") {
  CHECK(refusal("allreduce", {{"overlap", "2"}}) ==
        "--overlap is not an option of allreduce (its options: --dynamic-weights)");
  CHECK(refusal("local", {{"k", "4"}}) == "--k is not an option of local, which has none");
  CHECK(refusal("kavg", {{"tau", "4"}}).find("--tau is not an option of kavg (its options: --k") == 0);
  CHECK(refusal("kavg", {{"overlap", "2"}}).empty());  // kavg overlaps its averages
}
