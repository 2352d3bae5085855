// Groups: every member in exactly one group, by host, label or size; local order is hash
// order and the representative comes first; the same on every peer and after joins/leaves.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "foundations/base/error.h"
#include "tests/topology/view_fixtures.h"
#include "topology/groups.h"
#include "topology/hash_order.h"

using namespace chorus;
using namespace topology_test;

namespace {

// n members over `hosts` hosts; every third member carries a label (two labels in turn).
View grouped_view(std::size_t n, std::size_t hosts, std::uint64_t seed) {
  View view = random_view(n, seed);
  for (std::size_t i = 0; i < n; ++i) {
    Member& m = view.members[i];
    m.address = "tcp://10.2.0." + std::to_string(1 + i % hosts) + ":" + std::to_string(7000 + i);
    m.group = i % 3 == 0 ? (i % 2 == 0 ? "rack-a" : "rack-b") : "";
  }
  return view;
}

void check_cover(const View& view, const std::vector<Group>& groups) {
  std::vector<int> seen(view.size(), 0);
  std::set<std::string> names;
  for (const Group& g : groups) {
    REQUIRE_FALSE(g.members.empty());
    CHECK(g.representative() == g.members.front());
    CHECK(names.insert(g.name).second);
    for (std::size_t i = 0; i < g.members.size(); ++i) {
      REQUIRE(g.members[i] < view.size());
      ++seen[g.members[i]];
      if (i > 0)  // local order: hash order
        CHECK(peer_hash(view.members[g.members[i - 1]].id) <
              peer_hash(view.members[g.members[i]].id));
    }
  }
  for (std::size_t i = 0; i < view.size(); ++i) {
    INFO("member ", i);
    CHECK(seen[i] == 1);
    CHECK(groups[group_of(groups, i)].name.size() > 0);
  }
}

std::vector<std::vector<PeerId>> as_ids(const View& view, const std::vector<Group>& groups) {
  std::vector<std::vector<PeerId>> out;
  for (const Group& g : groups) {
    std::vector<PeerId> ids;
    for (std::size_t i : g.members) ids.push_back(view.members[i].id);
    out.push_back(ids);
  }
  return out;
}

}  // namespace

TEST_CASE("host_of takes the host part of an address") {
  CHECK(host_of("tcp://10.0.0.7:7001") == "10.0.0.7");
  CHECK(host_of("tcp://node-3.example:7001") == "node-3.example");
  CHECK(host_of("tcp://[fe80::1]:7001") == "fe80::1");
  CHECK(host_of("tcp://eth0;10.0.0.7:7001") == "10.0.0.7");
  CHECK(host_of("10.0.0.9:7001") == "10.0.0.9");
  CHECK(host_of("tcp://127.0.0.1:7001") == "localhost");
  CHECK(host_of("tcp://127.0.1.1:7002") == "localhost");
  CHECK(host_of("tcp://[::1]:7001") == "localhost");
  CHECK(host_of("tcp://localhost:7001") == "localhost");
  CHECK(host_of("ipc:///tmp/chorus-1") == "localhost");
  CHECK(host_of("inproc://peer-1") == "localhost");
}

TEST_CASE("groups cover every member exactly once, N = 1..33, by host, label and size") {
  for (std::size_t n = 1; n <= 33; ++n) {
    for (std::size_t hosts : {1, 2, 3, 5}) {
      const View view = grouped_view(n, hosts, 100 * n + hosts);
      INFO("N = ", n, ", hosts = ", hosts);

      const auto by_host = groups_by_host(view);
      check_cover(view, by_host);
      CHECK(by_host.size() == std::min(n, hosts));
      for (const Group& g : by_host)
        for (std::size_t i : g.members)
          CHECK(g.name == "host:" + host_of(view.members[i].address));

      const auto by_label = groups_by_label(view);
      check_cover(view, by_label);
      for (const Group& g : by_label)
        for (std::size_t i : g.members) {
          const Member& m = view.members[i];
          CHECK(g.name == (m.group.empty() ? "host:" + host_of(m.address) : "label:" + m.group));
        }

      for (std::size_t size : {1, 2, 3, 4, 8, 40}) {
        const auto sized = groups_of_size(view, size);
        check_cover(view, sized);
        CHECK(sized.size() == (n + size - 1) / size);
        std::size_t lo = n, hi = 0;
        std::vector<std::size_t> concatenated;
        for (const Group& g : sized) {
          lo = std::min(lo, g.members.size());
          hi = std::max(hi, g.members.size());
          concatenated.insert(concatenated.end(), g.members.begin(), g.members.end());
        }
        CHECK(hi <= size);
        CHECK(hi - lo <= 1);
        CHECK(concatenated == hash_order(view));
      }
    }
  }
}

TEST_CASE("every peer computes the same groups, and a join or leave moves only that member") {
  const View view = grouped_view(20, 3, 8);
  for (const char* rule_text : {"host", "label", "size:4"}) {
    const GroupRule rule = parse_group_rule(rule_text);
    const auto reference = as_ids(view, make_groups(view, rule));
    for (std::size_t peer = 0; peer < view.size(); ++peer) {
      const View mine = copy_as_seen_by(view, peer);
      CHECK(as_ids(mine, make_groups(mine, rule)) == reference);
    }
  }
  // By host, a leave removes exactly that member and a join adds exactly the new one.
  const auto before = as_ids(view, groups_by_host(view));
  const View after_leave = without(view, 4);
  auto expected = before;
  for (auto& g : expected) g.erase(std::remove(g.begin(), g.end(), view.members[4].id), g.end());
  CHECK(as_ids(after_leave, groups_by_host(after_leave)) == expected);
  View after_join = with(view, 0x77);
  for (Member& m : after_join.members)
    if (m.id == 0x77) m.address = view.members[0].address;  // on member 0's host
  const auto joined = as_ids(after_join, groups_by_host(after_join));
  REQUIRE(joined.size() == before.size());
  for (std::size_t g = 0; g < joined.size(); ++g) {
    auto without_joiner = joined[g];
    without_joiner.erase(std::remove(without_joiner.begin(), without_joiner.end(), PeerId{0x77}),
                         without_joiner.end());
    CHECK(without_joiner == before[g]);
  }
}

TEST_CASE("group rules parse, and bad ones are a UserError") {
  CHECK(parse_group_rule("host").kind == GroupKind::host);
  CHECK(parse_group_rule("label").kind == GroupKind::label);
  const GroupRule sized = parse_group_rule("size:6");
  CHECK(sized.kind == GroupKind::size);
  CHECK(sized.size == 6);
  for (const char* bad : {"size:0", "size:", "size:x", "size:4x", "rack", ""})
    CHECK_THROWS_AS((void)parse_group_rule(bad), UserError);
  CHECK_THROWS_AS((void)groups_of_size(random_view(3, 1), 0), UserError);
  CHECK(groups_by_host(View{}).empty());
}
