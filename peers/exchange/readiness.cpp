#include "peers/exchange/readiness.h"

#include <string_view>
#include <thread>

namespace chorus::readiness {
namespace {

constexpr std::string_view kKey = "strategy=";

// The value of `key` in "key=value;key=value", or "".
std::string value_of(const std::string& meta, std::string_view key) {
  std::size_t at = 0;
  while (at <= meta.size()) {
    const std::size_t end = std::min(meta.find(';', at), meta.size());
    const std::string_view item(meta.data() + at, end - at);
    if (item.starts_with(key)) return std::string(item.substr(key.size()));
    at = end + 1;
  }
  return {};
}

}  // namespace

void announce(Membership& membership, const std::string& strategy) {
  membership.set_meta(std::string(kKey) + strategy);
}

std::string strategy_of(const Membership& membership, PeerId id) {
  return value_of(membership.meta_of(id), kKey);
}

bool is_ready(const Membership& membership, PeerId id) { return !strategy_of(membership, id).empty(); }

bool is_ready(const Member& member) { return !value_of(member.meta, kKey).empty(); }

bool wait_until_all_ready(const Membership& membership, const View& view, PeerId self,
                          std::chrono::milliseconds timeout, const std::function<void()>& between) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (const auto& m : view.members)
      if (m.id != self && membership.is_member(m.id) && !is_ready(membership, m.id)) all = false;
    if (all) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    if (between) {
      between();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

}  // namespace chorus::readiness
