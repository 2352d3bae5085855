// Groups by host, by label, or of a fixed size (see groups.h).
#include "topology/groups.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "foundations/base/error.h"
#include "topology/hash_order.h"

namespace chorus {
namespace {

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Groups keyed by name; members enter in hash order, so each group is in local order.
std::vector<Group> group_by_key(const View& view, const std::vector<std::string>& key_of) {
  std::map<std::string, std::vector<std::size_t>> by_key;
  for (std::size_t i : hash_order(view)) by_key[key_of[i]].push_back(i);
  std::vector<Group> groups;
  groups.reserve(by_key.size());
  for (auto& [name, members] : by_key) groups.push_back({name, std::move(members)});
  return groups;
}

}  // namespace

std::string host_of(std::string_view address) {
  std::string_view rest = address;
  const std::size_t scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    const std::string_view scheme = rest.substr(0, scheme_end);
    if (scheme == "ipc" || scheme == "inproc") return "localhost";
    rest.remove_prefix(scheme_end + 3);
  }
  const std::size_t semicolon = rest.find(';');  // "interface;host:port"
  if (semicolon != std::string_view::npos) rest.remove_prefix(semicolon + 1);
  std::string_view host = rest;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    host = close == std::string_view::npos ? rest.substr(1) : rest.substr(1, close - 1);
  } else {
    const std::size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) host = rest.substr(0, colon);
  }
  if (is_loopback(host)) return "localhost";
  return std::string(host);
}

std::vector<Group> groups_by_host(const View& view) {
  std::vector<std::string> key(view.size());
  for (std::size_t i = 0; i < view.size(); ++i) key[i] = "host:" + host_of(view.members[i].address);
  return group_by_key(view, key);
}

std::vector<Group> groups_by_label(const View& view) {
  std::vector<std::string> key(view.size());
  for (std::size_t i = 0; i < view.size(); ++i) {
    const Member& m = view.members[i];
    key[i] = m.group.empty() ? "host:" + host_of(m.address) : "label:" + m.group;
  }
  return group_by_key(view, key);
}

std::vector<Group> groups_of_size(const View& view, std::size_t size) {
  if (size == 0) throw UserError("group size must be at least 1");
  const std::vector<std::size_t> order = hash_order(view);
  const std::size_t n = order.size();
  const std::size_t count = (n + size - 1) / size;
  std::vector<Group> groups;
  groups.reserve(count);
  std::size_t next = 0;
  for (std::size_t g = 0; g < count; ++g) {
    // The first n mod count groups take one extra member.
    const std::size_t take = n / count + (g < n % count ? 1 : 0);
    Group group{fmt::format("size:{}", g), {}};
    group.members.assign(order.begin() + static_cast<std::ptrdiff_t>(next),
                         order.begin() + static_cast<std::ptrdiff_t>(next + take));
    next += take;
    groups.push_back(std::move(group));
  }
  return groups;
}

GroupRule parse_group_rule(std::string_view text) {
  if (text == "host") return {GroupKind::host, 0};
  if (text == "label") return {GroupKind::label, 0};
  if (text.rfind("size:", 0) == 0) {
    const std::string_view digits = text.substr(5);
    std::size_t size = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
    if (ec == std::errc() && end == digits.data() + digits.size() && size >= 1)
      return {GroupKind::size, size};
    throw UserError(fmt::format("group rule '{}': the size must be a whole number of at least 1",
                                text));
  }
  throw UserError(fmt::format("unknown group rule '{}'; valid rules: host, label, size:K", text));
}

std::vector<Group> make_groups(const View& view, const GroupRule& rule) {
  switch (rule.kind) {
    case GroupKind::host: return groups_by_host(view);
    case GroupKind::label: return groups_by_label(view);
    case GroupKind::size: return groups_of_size(view, rule.size);
  }
  CHORUS_CHECK(false, "unknown group kind");
  return {};
}

std::size_t group_of(const std::vector<Group>& groups, std::size_t member) {
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (std::find(groups[g].members.begin(), groups[g].members.end(), member) !=
        groups[g].members.end())
      return g;
  CHORUS_CHECK(false, fmt::format("member {} is in no group", member));
  return 0;
}

}  // namespace chorus
