#include "tools/chorus/chaos_schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <regex>

#include "foundations/base/error.h"
#include "tools/chorus/option_checks.h"

namespace chorus::tools {
namespace {

std::string joined(const std::vector<int>& v) {
  std::string s;
  for (int x : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(x);
  }
  return s;
}

}  // namespace

const std::vector<std::string>& chaos_kind_names() {
  static const std::vector<std::string> names = {"kill", "term", "stop", "restart", "join", "partition"};
  return names;
}

std::string chaos_kind_name(ChaosKind kind) { return chaos_kind_names()[static_cast<std::size_t>(kind)]; }

ChaosKind parse_chaos_kind(const std::string& name) {
  const auto& names = chaos_kind_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end())
    throw UserError(fmt::format("unknown fault kind '{}' (known: kill, term, stop, restart, join, partition)", name));
  return static_cast<ChaosKind>(it - names.begin());
}

std::string ChaosFault::describe() const {
  switch (kind) {
    case ChaosKind::stop:
      return fmt::format("stop peer {} for {:.1f} s", peer, duration_s);
    case ChaosKind::join:
      return fmt::format("join peer {}", peer);
    case ChaosKind::partition: {
      std::string s = "partition ";
      for (std::size_t i = 0; i < sides.size(); ++i) {
        if (i) s += " | ";
        s += joined(sides[i]);
      }
      return s + fmt::format(" for {:.1f} s", duration_s);
    }
    default:
      return fmt::format("{} peer {}", chaos_kind_name(kind), peer);
  }
}

FaultInterval parse_fault_interval(const std::string& text) {
  const std::string where = "--fault-every " + text;
  const auto dash = text.find('-', 1);
  FaultInterval r;
  r.min_s = parse_number(text.substr(0, dash), where);
  r.max_s = dash == std::string::npos ? r.min_s : parse_number(text.substr(dash + 1), where);
  if (r.min_s <= 0 || r.max_s < r.min_s)
    throw UserError(where + ": expected MIN-MAX seconds with 0 < MIN <= MAX (e.g. 4-8)");
  return r;
}

std::vector<ChaosFault> parse_chaos_script(const std::string& text, int peers, double duration_s) {
  static const std::regex peer_re(R"((kill|term|restart):([0-9]+)@([^+]+))");
  static const std::regex stop_re(R"(stop:([0-9]+)@([^+]+)\+(.+))");
  static const std::regex join_re(R"(join@([^+]+))");
  static const std::regex partition_re(R"(partition@([^+]+)\+(.+))");
  std::vector<ChaosFault> faults;
  int joined_peers = peers;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const std::string where = "--script " + item;
    ChaosFault f;
    std::smatch m;
    if (std::regex_match(item, m, peer_re)) {
      f.kind = parse_chaos_kind(m[1]);
      f.peer = static_cast<int>(parse_number(m[2], where));
      f.at_s = parse_number(m[3], where);
    } else if (std::regex_match(item, m, stop_re)) {
      f.kind = ChaosKind::stop;
      f.peer = static_cast<int>(parse_number(m[1], where));
      f.at_s = parse_number(m[2], where);
      f.duration_s = parse_number(m[3], where);
    } else if (std::regex_match(item, m, join_re)) {
      f.kind = ChaosKind::join;
      f.at_s = parse_number(m[1], where);
    } else if (std::regex_match(item, m, partition_re)) {
      f.kind = ChaosKind::partition;
      f.at_s = parse_number(m[1], where);
      f.duration_s = parse_number(m[2], where);
      f.sides.resize(2);
      for (int k = 0; k < peers; ++k) f.sides[k < peers / 2 ? 0 : 1].push_back(k);
    } else {
      throw UserError(fmt::format("{}: expected kill:PEER@S, term:PEER@S, stop:PEER@S+D, restart:PEER@S, join@S or "
                                  "partition@S+D",
                                  where));
    }
    if (f.kind != ChaosKind::join && f.kind != ChaosKind::partition && (f.peer < 0 || f.peer >= peers))
      throw UserError(fmt::format("{}: there is no peer {} (the swarm starts with peers 0..{})", where, f.peer, peers - 1));
    if ((f.kind == ChaosKind::stop || f.kind == ChaosKind::partition) && f.duration_s <= 0)
      throw UserError(where + ": the duration must be positive");
    if (f.at_s < 0 || f.at_s > duration_s)
      throw UserError(fmt::format("{}: the time must lie in 0..{} (--duration)", where, duration_s));
    faults.push_back(f);
  }
  std::stable_sort(faults.begin(), faults.end(), [](const ChaosFault& a, const ChaosFault& b) { return a.at_s < b.at_s; });
  for (auto& f : faults)
    if (f.kind == ChaosKind::join) f.peer = joined_peers++;
  return faults;
}

std::uint64_t ChaosRandom::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double ChaosRandom::uniform(double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
}

int ChaosRandom::below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }

ChaosSchedule::ChaosSchedule(std::uint64_t seed, ChaosScheduleSettings settings)
    : random_(seed), settings_(std::move(settings)) {
  state_.assign(static_cast<std::size_t>(settings_.peers), State::up);
  paused_until_.assign(static_cast<std::size_t>(settings_.peers), 0.0);
}

ChaosSchedule::ChaosSchedule(std::vector<ChaosFault> script) : scripted_(true), script_(std::move(script)) {}

std::optional<ChaosFault> ChaosSchedule::next() {
  if (scripted_) {
    if (script_next_ >= script_.size()) return std::nullopt;
    return script_[script_next_++];
  }
  return draw();
}

ChaosFault ChaosSchedule::draw() {
  now_s_ += random_.uniform(settings_.every.min_s, settings_.every.max_s);
  ChaosFault f;
  f.at_s = now_s_;

  std::vector<int> active, down;  // running and not paused; taken down by this schedule
  int running = 0;
  for (std::size_t i = 0; i < state_.size(); ++i) {
    if (state_[i] == State::down) {
      down.push_back(static_cast<int>(i));
      continue;
    }
    ++running;
    if (paused_until_[i] <= now_s_) active.push_back(static_cast<int>(i));
  }
  const int n = settings_.peers;
  const int floor = std::clamp(std::max(2, n - 2), 1, std::max(1, n - 1));
  const bool can_remove = static_cast<int>(active.size()) - 1 >= floor;
  const bool few = running < n, many = running > n;

  std::vector<std::pair<ChaosKind, int>> weighted;
  for (ChaosKind k : settings_.kinds) {
    int w = 0;
    switch (k) {
      case ChaosKind::kill:
      case ChaosKind::term:
        w = can_remove ? (many ? 3 : 1) : 0;
        break;
      case ChaosKind::stop:
        w = can_remove ? 1 : 0;
        break;
      case ChaosKind::restart:
        w = !down.empty() ? (few ? 3 : 1) : (can_remove ? 1 : 0);
        break;
      case ChaosKind::join:
        w = static_cast<int>(state_.size()) < max_peers(n) && running <= n ? (few ? 3 : 1) : 0;
        break;
      case ChaosKind::partition:
        w = partition_until_ <= now_s_ && running >= 2 ? 1 : 0;
        break;
    }
    if (w > 0) weighted.emplace_back(k, w);
  }
  int total = 0;
  for (const auto& [k, w] : weighted) total += w;
  if (total == 0) {
    f.none = true;
    return f;
  }
  int pick = random_.below(total);
  for (const auto& [k, w] : weighted) {
    if (pick < w) {
      f.kind = k;
      break;
    }
    pick -= w;
  }

  switch (f.kind) {
    case ChaosKind::kill:
    case ChaosKind::term:
      f.peer = active[static_cast<std::size_t>(random_.below(static_cast<int>(active.size())))];
      state_[static_cast<std::size_t>(f.peer)] = State::down;
      break;
    case ChaosKind::stop:
      f.peer = active[static_cast<std::size_t>(random_.below(static_cast<int>(active.size())))];
      f.duration_s = random_.uniform(settings_.stop_min_s, settings_.stop_max_s);
      paused_until_[static_cast<std::size_t>(f.peer)] = now_s_ + f.duration_s;
      break;
    case ChaosKind::restart: {
      const std::vector<int>& from = down.empty() ? active : down;
      f.peer = from[static_cast<std::size_t>(random_.below(static_cast<int>(from.size())))];
      state_[static_cast<std::size_t>(f.peer)] = State::up;
      paused_until_[static_cast<std::size_t>(f.peer)] = 0;
      break;
    }
    case ChaosKind::join:
      f.peer = static_cast<int>(state_.size());
      state_.push_back(State::up);
      paused_until_.push_back(0);
      break;
    case ChaosKind::partition: {
      std::vector<int> up;
      for (std::size_t i = 0; i < state_.size(); ++i)
        if (state_[i] == State::up) up.push_back(static_cast<int>(i));
      for (std::size_t i = up.size(); i > 1; --i)
        std::swap(up[i - 1], up[static_cast<std::size_t>(random_.below(static_cast<int>(i)))]);
      f.sides.assign(2, {});
      for (std::size_t i = 0; i < up.size(); ++i) f.sides[i < up.size() / 2 ? 0 : 1].push_back(up[i]);
      for (std::size_t i = 0; i < down.size(); ++i) f.sides[i % 2].push_back(down[i]);
      for (auto& side : f.sides) std::sort(side.begin(), side.end());
      f.duration_s = random_.uniform(settings_.partition_min_s, settings_.partition_max_s);
      partition_until_ = now_s_ + f.duration_s;
      break;
    }
  }
  return f;
}

}  // namespace chorus::tools
