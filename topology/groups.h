#pragma once
// Groups: how a view's members split into groups for the hierarchical strategies (Hier-AVG,
// multi-leader LSGD), decided from the view alone so every peer computes the same groups.
//
//   host   one group per host (the host part of the member's address): "local workers in one
//          node, groups across nodes". The default.
//   label  one group per --group label; members without a label join the group of their
//          host.
//   size   consecutive runs of the hash order in groups of at most K members, as equal as
//          possible: ceil(N/K) groups whose sizes differ by at most one.
//
// Every member is in exactly one group. Inside a group members are in hash order
// (hash_order.h), the deterministic local order used for a local ring; the first of them is
// the group's representative. Groups are sorted by name ("host:...", "label:...") or, for
// size groups, by their position in the hash order.
//
// Pure functions: no state, no blocking, safe from any thread. Errors: UserError for a bad
// rule ("size:0", an unknown rule name).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "topology/view.h"

namespace chorus {

struct Group {
  std::string name;                  // "host:10.0.0.1", "label:rack-a" or "size:0"
  std::vector<std::size_t> members;  // indices into view.members, in local (hash) order
  std::size_t representative() const { return members.front(); }
};

enum class GroupKind { host, label, size };

struct GroupRule {
  GroupKind kind = GroupKind::host;
  std::size_t size = 0;  // for GroupKind::size, at least 1
};

// "host", "label" or "size:K".
GroupRule parse_group_rule(std::string_view text);

std::vector<Group> make_groups(const View& view, const GroupRule& rule);
std::vector<Group> groups_by_host(const View& view);
std::vector<Group> groups_by_label(const View& view);
std::vector<Group> groups_of_size(const View& view, std::size_t size);

// The index into `groups` of the group holding member `member`; CHORUS_CHECK if none does.
std::size_t group_of(const std::vector<Group>& groups, std::size_t member);

// The host part of a transport address: "tcp://10.0.0.7:7001" -> "10.0.0.7",
// "tcp://[fe80::1]:7001" -> "fe80::1", "tcp://eth0;10.0.0.7:7001" -> "10.0.0.7". Loopback
// addresses (127.x.y.z, ::1, localhost) and ipc:// or inproc:// addresses, which never leave
// the machine, all give "localhost". An address without a scheme is read the same way.
std::string host_of(std::string_view address);

}  // namespace chorus
