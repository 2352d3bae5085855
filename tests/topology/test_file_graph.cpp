// The file graph: parsing (comments, blank lines, errors with file:line), unknown addresses
// listed once, and the ring fallback for members the file leaves alone.
#include <doctest/doctest.h>

#include <fstream>

#include "foundations/base/error.h"
#include "tests/test_util.h"
#include "tests/topology/graph_specs.h"
#include "tests/topology/view_fixtures.h"
#include "topology/graph.h"

using namespace chorus;
using namespace topology_test;

namespace {

std::string write(const chorus_test::TempDir& dir, const std::string& name,
                  const std::string& text) {
  const std::string path = dir / name;
  std::ofstream(path) << text;
  return path;
}

std::unique_ptr<Graph> file_graph(const std::string& path) {
  GraphOptions o;
  o.file = path;
  return make_graph("file", o);
}

View view_of(const std::vector<std::string>& addresses) {
  View v;
  v.number = 3;
  PeerId id = 100;
  for (const auto& a : addresses) v.members.push_back({id++, a, "", 0});
  return v;
}

std::string error_of(const std::string& path) {
  try {
    (void)file_graph(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a graph file gives exactly its edges among current members") {
  chorus_test::TempDir dir("chorus-topology");
  const std::string path = write(dir, "g.txt",
                                 "# a square with one diagonal\n"
                                 "\n"
                                 "tcp://a:1 tcp://b:1\n"
                                 "   tcp://b:1\ttcp://c:1   # trailing comment\r\n"
                                 "tcp://c:1 tcp://d:1\n"
                                 "tcp://d:1 tcp://a:1\n"
                                 "tcp://a:1 tcp://c:1\n"
                                 "tcp://a:1 tcp://b:1\n");  // a repeated edge is one edge
  const auto graph = file_graph(path);
  const View view = view_of({"tcp://a:1", "tcp://b:1", "tcp://c:1", "tcp://d:1"});
  const Adjacency edges = graph->round_edges(view, 0);
  CHECK(edges[0] == std::vector<std::size_t>{1, 2, 3});
  CHECK(edges[1] == std::vector<std::size_t>{0, 2});
  CHECK(edges[2] == std::vector<std::size_t>{0, 1, 3});
  CHECK(edges[3] == std::vector<std::size_t>{0, 2});
  CHECK(graph->warnings(view).empty());
  CHECK(graph_file_addresses(path) ==
        std::vector<std::string>{"tcp://a:1", "tcp://b:1", "tcp://c:1", "tcp://d:1"});
}

TEST_CASE("malformed graph files are a UserError naming file:line") {
  chorus_test::TempDir dir("chorus-topology");
  const std::string one_word = write(dir, "one.txt", "tcp://a:1 tcp://b:1\n# ok\ntcp://a:1\n");
  CHECK(error_of(one_word).find(one_word + ":3:") != std::string::npos);
  const std::string three = write(dir, "three.txt", "tcp://a:1 tcp://b:1 tcp://c:1\n");
  CHECK(error_of(three).find(three + ":1:") != std::string::npos);
  const std::string loop = write(dir, "loop.txt", "\n\ntcp://a:1 tcp://a:1\n");
  const std::string loop_error = error_of(loop);
  CHECK(loop_error.find(loop + ":3:") != std::string::npos);
  CHECK(loop_error.find("itself") != std::string::npos);
  const std::string missing = dir / "no-such-file.txt";
  CHECK(error_of(missing).find(missing) != std::string::npos);
  CHECK_THROWS_AS((void)graph_file_addresses(missing), UserError);
  const std::string empty = write(dir, "empty.txt", "# nothing\n");
  CHECK(error_of(empty).empty());
}

TEST_CASE("unknown addresses are ignored and listed once; members left alone join the ring") {
  chorus_test::TempDir dir("chorus-topology");
  const std::string path = write(dir, "g.txt",
                                 "tcp://a:1 tcp://gone:1\n"
                                 "tcp://b:1 tcp://gone:1\n"
                                 "tcp://b:1 tcp://c:1\n"
                                 "tcp://c:1 tcp://other:9\n");
  const auto graph = file_graph(path);
  // a: only edges to a departed address; d, e: not in the file at all.
  const View view = view_of({"tcp://a:1", "tcp://b:1", "tcp://c:1", "tcp://d:1", "tcp://e:1"});
  const std::vector<std::string> warnings = graph->warnings(view);
  REQUIRE(warnings.size() == 2);
  const std::string& unknown = warnings[0];
  CHECK(unknown.find(path) != std::string::npos);
  for (const std::string address : {"tcp://gone:1", "tcp://other:9"}) {
    const std::size_t first = unknown.find(address);
    REQUIRE(first != std::string::npos);
    CHECK(unknown.find(address, first + 1) == std::string::npos);  // listed once
  }
  CHECK(warnings[1].find("tcp://d:1") != std::string::npos);
  CHECK(warnings[1].find("tcp://e:1") != std::string::npos);

  const Adjacency edges = graph->round_edges(view, 0);
  const Adjacency ring = make_graph("ring")->round_edges(view, 0);
  CHECK(std::binary_search(edges[1].begin(), edges[1].end(), 2));  // b-c from the file
  for (std::size_t alone : {0, 3, 4}) {  // a, d, e: linked to their ring neighbours
    INFO("member ", alone);
    for (std::size_t j : ring[alone]) CHECK(std::binary_search(edges[alone].begin(), edges[alone].end(), j));
  }
  for (std::size_t i = 0; i < view.size(); ++i) {
    CHECK_FALSE(edges[i].empty());
    for (std::size_t j : edges[i]) CHECK(std::binary_search(edges[j].begin(), edges[j].end(), i));
  }
}
