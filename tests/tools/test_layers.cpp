// The layers hold: tools/check_layers.py passes this tree and refuses an include that points up
// a layer or across to an area its area may not use, naming the file, the line and the rule.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

using chorus_test::run_command;
using chorus_test::TempDir;

namespace {

std::string check_command(const std::string& root) {
  return "python3 " + chorus_test::source_root() + "/tools/check_layers.py --root " + root;
}

}  // namespace

TEST_CASE("this tree keeps to its layers") {
  const auto r = run_command(check_command(chorus_test::source_root()));
  INFO(r.output);
  CHECK(r.exit_code == 0);
}

TEST_CASE("an include that points up a layer or across to a forbidden area is refused") {
  TempDir dir("chorus-layers");
  chorus_test::write_file(dir.path(), "foundations/base/error.h", "#pragma once\n");
  // Allowed: down a layer, and to an area listed for the includer's area.
  chorus_test::write_file(dir.path(), "peers/ring/ok.cpp",
        "#include \"foundations/base/error.h\"\n#include \"topology/graph.h\"\n"
        "#include \"peers/exchange/strategy.h\"\n#include \"chorus_config.h\"\n#include <vector>\n");
  auto r = run_command(check_command(dir.path().string()));
  INFO(r.output);
  CHECK(r.exit_code == 0);

  chorus_test::write_file(dir.path(), "topology/graph.cpp", "// a graph\n#include \"peers/membership/membership.h\"\n");
  chorus_test::write_file(dir.path(), "foundations/wire/wire.cpp", "#include \"foundations/transport/transport.h\"\n");
  chorus_test::write_file(dir.path(), "peers/ring/cross.cpp", "#include \"peers/gossip/letter.h\"\n");
  chorus_test::write_file(dir.path(), "peers/exchange/old.h", "#include \"chorus/view.h\"\n");
  r = run_command(check_command(dir.path().string()));
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("topology/graph.cpp:2: includes \"peers/membership/membership.h\": topology may use "
                      "foundations") != std::string::npos);
  CHECK(r.output.find("foundations/wire/wire.cpp:1: includes \"foundations/transport/transport.h\": "
                      "foundations/wire may use base") != std::string::npos);
  CHECK(r.output.find("peers/ring/cross.cpp:1: includes \"peers/gossip/letter.h\": peers/ring may use "
                      "membership, exchange") != std::string::npos);
  CHECK(r.output.find("peers/exchange/old.h:1: includes \"chorus/view.h\", which is in no layer") !=
        std::string::npos);
  CHECK(r.output.find("4 include(s)") != std::string::npos);
  CHECK(r.output.find("ok.cpp") == std::string::npos);
}
