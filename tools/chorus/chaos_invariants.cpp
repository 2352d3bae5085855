#include "tools/chorus/chaos_invariants.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

namespace chorus::tools {
namespace {

const char* const kNames[] = {"progress", "collective waits", "one view", "finite loss", "resume from checkpoint",
                              "no crash"};

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

std::string set_text(const std::set<std::string>& s) {
  std::string t;
  for (const auto& a : s) t += (t.empty() ? "" : ", ") + a;
  return "{" + t + "}";
}

// The last non-empty line of a peer's output file (what it said before it ended).
std::string last_output_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

ChaosChecker::Peer& ChaosChecker::peer(const PeerState& p) { return peers_[p.index]; }

void ChaosChecker::violate(int invariant, std::string evidence) {
  news_.push_back(fmt::format("invariant {} ({}): {}", invariant, kNames[invariant - 1], evidence));
  violations_[static_cast<std::size_t>(invariant - 1)].push_back(std::move(evidence));
}

std::vector<std::string> ChaosChecker::take_news() {
  std::vector<std::string> out;
  out.swap(news_);
  return out;
}

void ChaosChecker::launched(const PeerState& p, double now_s) {
  Peer& q = peer(p);
  // The checkpoint file holds the last checkpoint any earlier process logged.
  q.owed_resume = p.launches > 1 ? q.checkpoint : -1;
  q.launch = p.launches;
  q.address = p.address;
  q.out_path = p.out_path;
  q.live = true;
  q.paused = q.stepped = q.overdue = q.has_view = false;
  q.clock_s = now_s;
  q.step = -1;
  q.last_t = NAN;
  q.view.clear();
}

double ChaosChecker::paused_during(const Peer& p, double from_s, double to_s) const {
  double total = 0;
  for (const auto& [a, b] : p.pauses) total += std::max(0.0, std::min(b, to_s) - std::max(a, from_s));
  if (p.paused) total += std::max(0.0, to_s - std::max(p.paused_s, from_s));
  return total;
}

void ChaosChecker::line(const PeerState& p, const nlohmann::json& j, double now_s) {
  Peer& q = peer(p);
  auto num = [&](const char* k, double fallback) {
    return j.contains(k) && j[k].is_number() ? j[k].get<double>() : fallback;
  };
  if (j.contains("event")) {
    const std::string event = j["event"].is_string() ? j["event"].get<std::string>() : "";
    if (event == "view" && j.contains("members") && j["members"].is_array()) {
      q.view.clear();
      for (const auto& m : j["members"])
        if (m.is_string()) q.view.insert(m.get<std::string>());
      q.has_view = true;
    } else if (event == "collective") {
      const double seconds = num("seconds", 0);
      const double waited = seconds - paused_during(q, now_s - seconds, now_s);
      ++collectives_;
      longest_collective_s_ = std::max(longest_collective_s_, waited);
      const double bound = 2 * bounds_.suspicion_max_s;
      if (waited > bound)
        violate(2, fmt::format("peer {} ({}) at {:.1f} s: a collective (round {}, status {}) waited {:.2f} s > {:.1f} s{}",
                               p.index, q.address, now_s, j.value("round", nlohmann::json()).dump(),
                               j.value("status", std::string("?")), waited, bound,
                               j.contains("detail") && j["detail"].is_string() && !j["detail"].get<std::string>().empty()
                                   ? "; detail: " + j["detail"].get<std::string>()
                                   : ""));
    } else if (event == "checkpoint") {
      q.checkpoint = static_cast<std::int64_t>(num("step", static_cast<double>(q.checkpoint)));
    } else if (event == "resume") {
      const auto step = static_cast<std::int64_t>(num("step", -1));
      if (q.owed_resume >= 0) {
        ++restarts_checked_;
        if (step < q.owed_resume)
          violate(5, fmt::format("peer {} (launch {}) at {:.1f} s: resumed at step {}, behind its checkpoint at step {}",
                                 p.index, q.launch, now_s, step, q.owed_resume));
        q.owed_resume = -1;
      }
    } else if (event == "done" || (event == "leave" && j.contains("reason"))) {
      q.live = false;  // its own leave ("leave" with a member is another peer's, seen by this one)
    }
    return;
  }
  if (!j.contains("step")) return;
  ++step_lines_;
  const auto step = static_cast<std::int64_t>(num("step", 0));
  if (!j.contains("loss") || !j["loss"].is_number() || !std::isfinite(j["loss"].get<double>()))
    violate(4, fmt::format("peer {} (launch {}) at {:.1f} s: step {} has loss {}", p.index, q.launch, now_s, step,
                           j.contains("loss") ? j["loss"].dump() : "missing"));
  if (q.owed_resume >= 0) {
    ++restarts_checked_;
    violate(5, fmt::format("peer {} (launch {}) at {:.1f} s: stepping at step {} without resuming from its checkpoint at "
                           "step {}",
                           p.index, q.launch, now_s, step, q.owed_resume));
    q.owed_resume = -1;
  }
  if (q.step >= 0 && step > q.step) {
    for (auto& [name, w] : windows_)
      if (now_s >= w.from_s && now_s <= w.to_s) w.steps += static_cast<double>(step - q.step);
    const double t = num("t", NAN);
    const auto base = windows_.find("baseline");
    if (std::isfinite(t) && std::isfinite(q.last_t) && base != windows_.end() && now_s >= base->second.from_s &&
        now_s <= base->second.to_s)
      q.intervals.push_back(t - q.last_t);
  }
  check_progress(now_s);  // a gap that ends now still counts
  q.step = step;
  q.last_t = num("t", NAN);
  q.clock_s = now_s;
  q.stepped = true;
  q.overdue = false;
}

void ChaosChecker::paused(const PeerState& p, double now_s) {
  Peer& q = peer(p);
  q.paused = true;
  q.paused_s = now_s;
}

void ChaosChecker::continued(const PeerState& p, double now_s) {
  Peer& q = peer(p);
  if (!q.paused) return;
  q.paused = false;
  q.pauses.emplace_back(q.paused_s, now_s);
  q.clock_s = std::max(q.clock_s, now_s);
  q.overdue = false;
}

void ChaosChecker::exited(const PeerState& p, const PeerExit& e) {
  Peer& q = peer(p);
  if (q.paused) continued(p, e.at_s);
  q.live = false;
  ++exits_;
  if (SwarmRunner::failed(e)) {
    const std::string said = last_output_line(p.out_path);
    violate(6, fmt::format("peer {} (launch {}, {}) exited with code {} at {:.1f} s{}{}", p.index, e.launch, q.address,
                           e.exit_code, e.at_s, e.cause.empty() ? "" : " after the runner's " + e.cause,
                           said.empty() ? "" : "; its last output: " + said));
  }
}

void ChaosChecker::leaving(int peer) { peers_[peer].live = false; }

double ChaosChecker::normal_interval() const {
  std::vector<double> each;
  for (const auto& [i, q] : peers_)
    if (!q.intervals.empty()) each.push_back(median(q.intervals));
  return median(each);
}

double ChaosChecker::progress_bound(int peer) const {
  const auto it = peers_.find(peer);
  double interval = it != peers_.end() ? median(it->second.intervals) : NAN;
  if (!std::isfinite(interval)) interval = normal_interval();
  double bound = std::max(bounds_.min_progress_s, 2 * bounds_.suspicion_max_s);
  if (std::isfinite(interval)) bound = std::max(bound, bounds_.step_intervals * interval);
  return bound;
}

void ChaosChecker::check_progress(double now_s) {
  for (auto& [i, q] : peers_) {
    if (!q.live || q.paused || q.overdue) continue;
    const double gap = now_s - q.clock_s;
    const double bound = progress_bound(i) + (q.stepped ? 0 : bounds_.startup_s);
    if (q.stepped && gap > longest_gap_s_) {
      longest_gap_s_ = gap;
      longest_gap_peer_ = i;
    }
    if (gap <= bound) continue;
    q.overdue = true;
    violate(1, fmt::format("peer {} (launch {}, {}): no step line from {:.1f} s to {:.1f} s ({:.1f} s > {:.1f} s); {}", i,
                           q.launch, q.address, q.clock_s, now_s, gap, bound,
                           q.stepped ? fmt::format("last step {}", q.step)
                                     : fmt::format("none since its launch ({:.0f} s allowed to start)", bounds_.startup_s)));
  }
}

bool ChaosChecker::views_agree(const std::vector<PeerState>& peers, std::string* why) const {
  std::set<std::string> live;
  std::vector<int> live_peers;
  for (const auto& p : peers) {
    const auto it = peers_.find(p.index);
    if (p.started && p.exit_code < 0 && it != peers_.end() && it->second.live) {
      live.insert(p.address);
      live_peers.push_back(p.index);
    }
  }
  bool agree = !live.empty();
  std::string text = fmt::format("live peers {}", set_text(live));
  for (int i : live_peers) {
    const Peer& q = peers_.at(i);
    const bool same = q.has_view && q.view == live;
    agree = agree && same;
    text += fmt::format("; peer {} {}", i,
                        !q.has_view ? std::string("has no view yet")
                                    : fmt::format("holds {} members {}{}", q.view.size(), set_text(q.view),
                                                  same ? "" : " (not the live set)"));
  }
  if (why) *why = text;
  return agree;
}

void ChaosChecker::record_views(bool agreed, double at_s, const std::string& evidence) {
  views_checked_ = true;
  views_agreed_ = agreed;
  views_evidence_ = fmt::format("at {:.1f} s: {}", at_s, evidence);
  if (!agreed) violate(3, views_evidence_);
}

void ChaosChecker::set_window(const std::string& name, double from_s, double to_s) {
  auto& w = windows_[name];
  w.from_s = from_s;
  w.to_s = to_s;
}

double ChaosChecker::steps_per_s(const std::string& name) const {
  const auto it = windows_.find(name);
  if (it == windows_.end() || !(it->second.to_s > it->second.from_s) || !std::isfinite(it->second.to_s)) return NAN;
  return it->second.steps / (it->second.to_s - it->second.from_s);
}

bool ChaosChecker::all_stepping(int peers) const {
  for (int i = 0; i < peers; ++i) {
    const auto it = peers_.find(i);
    if (it == peers_.end() || !it->second.stepped) return false;
  }
  return true;
}

std::vector<InvariantResult> ChaosChecker::results() const {
  std::vector<InvariantResult> r(6);
  for (std::size_t i = 0; i < 6; ++i) {
    r[i].name = kNames[i];
    r[i].evidence = violations_[i];
    r[i].pass = violations_[i].empty();
  }
  const double interval = normal_interval();
  r[0].summary = fmt::format("{} step lines; longest gap {:.1f} s{}; bound max(10 s, 5 x normal step-line interval "
                             "{}, 2 x {:.0f} s suspicion) = {:.1f} s",
                             step_lines_, longest_gap_s_,
                             longest_gap_peer_ >= 0 ? fmt::format(" (peer {})", longest_gap_peer_) : "",
                             std::isfinite(interval) ? fmt::format("{:.3f} s", interval) : "unknown",
                             bounds_.suspicion_max_s, progress_bound(-1));
  r[1].summary = collectives_ == 0
                     ? fmt::format("no collective event logged (the strategy logs none, or every collective went "
                                   "through at once); bound {:.1f} s",
                                   2 * bounds_.suspicion_max_s)
                     : fmt::format("{} collective events; longest wait {:.2f} s; bound 2 x {:.0f} s = {:.1f} s",
                                   collectives_, longest_collective_s_, bounds_.suspicion_max_s,
                                   2 * bounds_.suspicion_max_s);
  if (!views_checked_) {
    r[2].pass = false;
    r[2].summary = "not checked: the run ended before the faults did";
  } else {
    r[2].summary = views_agreed_ ? views_evidence_ : "the live peers did not hold one view in time";
  }
  r[3].summary = fmt::format("{} step lines", step_lines_);
  r[4].summary = fmt::format("{} restarts from a checkpoint checked", restarts_checked_);
  r[5].summary = fmt::format("{} peer processes ended", exits_);
  return r;
}

bool ChaosChecker::all_pass() const {
  for (const auto& r : results())
    if (!r.pass) return false;
  return true;
}

}  // namespace chorus::tools
