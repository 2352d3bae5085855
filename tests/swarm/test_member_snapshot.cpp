// MemberSnapshot: the members a peer last knew, beside its checkpoint — saved atomically, read
// back as addresses (at most kMaxAddresses, at random), and a missing, damaged or foreign file
// read as none, with the reason.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "peers/runtime/member_snapshot.h"
#include "tests/test_util.h"

using chorus::MemberSnapshot;
using chorus::View;

namespace {

View view_of(std::size_t n) {
  View v;
  v.number = n;
  for (std::size_t i = 1; i <= n; ++i) {
    chorus::Member m;
    m.id = i;
    m.address = "tcp://127.0.0.1:" + std::to_string(7000 + i);
    v.members.push_back(m);
  }
  return v;
}

}  // namespace

TEST_CASE("member snapshot: the other members of the view are saved and read back") {
  chorus_test::TempDir dir("chorus-members");
  MemberSnapshot snapshot(dir.path().string());
  CHECK(snapshot.load().empty());  // no file yet
  snapshot.save(view_of(3), 2);
  auto got = MemberSnapshot(dir.path().string()).load();
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"tcp://127.0.0.1:7001", "tcp://127.0.0.1:7003"});
  // A view of this peer alone keeps what was saved: a restart alone still knows whom to try.
  snapshot.save(view_of(1), 1);
  CHECK(MemberSnapshot(dir.path().string()).load().size() == 2);
}

TEST_CASE("member snapshot: a large swarm is read back as a random few") {
  chorus_test::TempDir dir("chorus-members");
  MemberSnapshot(dir.path().string()).save(view_of(500), 1);
  const auto a = MemberSnapshot(dir.path().string()).load();
  CHECK(a.size() == MemberSnapshot::kMaxAddresses);
  bool differs = false;
  for (int i = 0; i < 5 && !differs; ++i) differs = MemberSnapshot(dir.path().string()).load() != a;
  CHECK(differs);
}

TEST_CASE("member snapshot: a damaged or foreign file reads as no members, and says why") {
  chorus_test::TempDir dir("chorus-members");
  MemberSnapshot snapshot(dir.path().string());
  for (const char* text : {"{\"not\": \"a list\"}", "[{\"address\": 3}, 7, null]", "\x01\x02garbage", ""}) {
    chorus_test::write_file(dir.path(), "members.json", text);
    std::string problem;
    CHECK(snapshot.load(&problem).empty());
  }
  chorus_test::write_file(dir.path(), "members.json", "{\"not\": \"a list\"}");
  std::string problem;
  snapshot.load(&problem);
  CHECK(problem.find("members.json") != std::string::npos);
  // The next view overwrites it.
  snapshot.save(view_of(2), 1);
  CHECK(MemberSnapshot(dir.path().string()).load() == std::vector<std::string>{"tcp://127.0.0.1:7002"});
}
