// Registries and option sets: the one table each kind of record is listed in, and the one
// definition each option's flag, range and message come from.
#include <doctest/doctest.h>

#include "foundations/base/error.h"
#include "foundations/base/option_set.h"
#include "foundations/base/registry.h"

using namespace chorus;

namespace {
struct Thing {
  std::string name;
  std::string description;
  int order = 0;
};
}  // namespace

TEST_CASE("a registry lists its records by order, then name, and names the valid ones for an unknown one") {
  Registry<Thing> things("thing");
  things.add({"b", "second", 20});
  things.add({"c", "also second", 20});
  things.add({"a", "first", 10});
  CHECK(things.names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(things.joined_names() == "a, b, c");
  CHECK(things.get("b").description == "second");
  CHECK(things.find("z") == nullptr);
  try {
    things.get("z");
    FAIL("no error for an unknown record");
  } catch (const UserError& e) {
    CHECK(std::string(e.what()) == "unknown thing 'z' (choose one of: a, b, c)");
  }
  CHECK_THROWS_AS(things.add({"a", "again", 5}), InvariantError);
  CHECK_THROWS_AS(things.add({"", "nameless", 5}), InvariantError);
}

TEST_CASE("an option set parses, checks and stores each value, with one message per kind of mistake") {
  int k = 8;
  float alpha = 0.5f, p = 0.0f;
  std::string mode = "pull", path = "ring";
  bool on = false;
  OptionSet set;
  set.integer("k", k, "every K steps", 1, 100)
      .real("alpha", alpha, "rate", Interval::left_open(0, 1))
      .real("p", p, "probability", Interval::closed(0, 1))
      .choice("mode", mode, "pull or push", {"pull", "push"})
      .text("graph", path, "a graph", [](const std::string& v) {
        if (v.empty()) throw UserError("--graph: give a name");
      })
      .flag("dynamic", on, "weights");
  CHECK(set.find("k")->default_text == "8");
  CHECK(set.find("alpha")->default_text == "0.5");
  CHECK(set.flags() == "--k, --alpha, --p, --mode, --graph, --dynamic");

  set.set("k", "100");
  set.set("alpha", "1");
  set.set("p", "0");
  set.set("mode", "push");
  set.set("graph", "torus");
  set.set("dynamic", "");
  CHECK(k == 100);
  CHECK(alpha == 1.0f);
  CHECK(p == 0.0f);
  CHECK(mode == "push");
  CHECK(path == "torus");
  CHECK(on);
  set.set("dynamic", "false");
  CHECK_FALSE(on);

  const auto message = [&](const char* name, const char* text) {
    try {
      set.set(name, text);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("k", "0") == "--k must be an integer from 1 to 100, not '0'");
  CHECK(message("k", "4x") == "--k must be an integer from 1 to 100, not '4x'");
  CHECK(message("k", "99999999999999999999") == "--k must be an integer from 1 to 100, not '99999999999999999999'");
  CHECK(message("alpha", "0") == "--alpha must be a number in (0, 1], not '0'");
  CHECK(message("alpha", "nan") == "--alpha must be a number in (0, 1], not 'nan'");
  CHECK(message("p", "1.5") == "--p must be a number in [0, 1], not '1.5'");
  CHECK(message("mode", "both") == "--mode must be one of pull, push, not 'both'");
  CHECK(message("graph", "") == "--graph: give a name");
  CHECK(message("dynamic", "yes") == "--dynamic is a flag: give it alone (or =true / =false), not 'yes'");
  CHECK(message("lambda", "1") ==
        "--lambda is not an option here (the options: --k, --alpha, --p, --mode, --graph, --dynamic)");
  // A refused value leaves the option as it was.
  CHECK(k == 100);
  CHECK(mode == "push");
}
