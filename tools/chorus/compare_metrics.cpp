#include "tools/chorus/compare_metrics.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "foundations/train/checkpoint_store.h"

namespace chorus::tools {
namespace {

double number(const nlohmann::json& j, const char* key, double fallback) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

struct Accumulator {
  double x = 0, y = 0;
  int n = 0;
};

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// The accuracy curves: a sweep over all evaluations in time order. Per run it keeps each
// live peer's latest accuracy (a run's accuracy is their mean) and every peer's latest byte
// count (a run's bytes are their sum over the peers it started: a cumulative figure that
// never goes back); the curves average the runs that have a value.
void accuracy_curves(const std::vector<RunResult>& runs, StrategySummary& s) {
  struct Event {
    double t;
    std::size_t run, peer;
    const EvalPoint* eval;  // null: the peer's log ends here (killed)
  };
  std::vector<Event> events;
  for (std::size_t r = 0; r < runs.size(); ++r)
    for (std::size_t p = 0; p < runs[r].peers.size(); ++p) {
      const PeerTrace& trace = runs[r].peers[p];
      for (const auto& e : trace.evals) events.push_back({e.t_s, r, p, &e});
      if (trace.killed_by_fault && std::isfinite(trace.last_t_s)) events.push_back({trace.last_t_s, r, p, nullptr});
    }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.t < b.t; });
  std::vector<std::map<std::size_t, double>> accuracy(runs.size()), bytes(runs.size());
  for (const auto& e : events) {
    if (!e.eval) {
      accuracy[e.run].erase(e.peer);
      continue;
    }
    accuracy[e.run][e.peer] = e.eval->acc;
    bytes[e.run][e.peer] = e.eval->bytes_sent;
    double acc = 0, mb = 0;
    int n_runs = 0;
    for (std::size_t r = 0; r < runs.size(); ++r) {
      if (accuracy[r].empty()) continue;
      double a = 0, b = 0;
      for (const auto& [peer, value] : accuracy[r]) a += value;
      for (const auto& [peer, value] : bytes[r]) b += value;
      acc += a / static_cast<double>(accuracy[r].size());
      mb += b / 1e6 / static_cast<double>(runs[r].peers.size());
      ++n_runs;
    }
    s.acc_vs_time.push_back({e.t, acc / n_runs});
    s.acc_vs_bytes.push_back({mb / n_runs, acc / n_runs});
  }
}

}  // namespace

PeerTrace read_peer_trace(const std::string& log_path, double offset_s) {
  PeerTrace trace;
  std::ifstream in(log_path);
  std::string text;
  bool first_step_seen = false;
  std::optional<std::int64_t> start_from;
  while (std::getline(in, text)) {
    const auto line = nlohmann::json::parse(text, nullptr, false);
    if (line.is_discarded() || !line.is_object()) continue;
    const double t = offset_s + number(line, "t", 0);
    trace.last_t_s = t;
    if (line.contains("event") && line["event"].is_string()) {
      const std::string event = line["event"].get<std::string>();
      if ((event == "state_transfer" || event == "resume") && !first_step_seen)
        start_from = static_cast<std::int64_t>(number(line, "step", 0));
      if (event == "done") {
        trace.done = true;
        trace.final_acc = number(line, "final_test_acc", NAN);
        trace.wall_s = number(line, "wall_s", NAN);
        trace.steps = static_cast<std::int64_t>(number(line, "steps", static_cast<double>(trace.steps)));
        trace.bytes_sent = number(line, "bytes_sent", trace.bytes_sent);
        trace.idle_s = number(line, "idle_s", trace.idle_s);
        trace.comm_s = number(line, "comm_s", trace.comm_s);
        const bool evaluated_here = !trace.evals.empty() && trace.evals.back().step == trace.steps;
        if (std::isfinite(trace.final_acc) && !evaluated_here)
          trace.evals.push_back({trace.steps, t, trace.final_acc, trace.bytes_sent});
      }
      continue;
    }
    if (!line.contains("step")) continue;
    const auto step = static_cast<std::int64_t>(number(line, "step", 0));
    if (!first_step_seen) {
      first_step_seen = true;
      trace.first_step_t_s = t;
      trace.first_step = start_from.value_or(step - 1);
    }
    trace.steps = step;
    trace.bytes_sent = number(line, "bytes_sent", trace.bytes_sent);
    trace.idle_s = number(line, "idle_s", trace.idle_s);
    trace.comm_s = number(line, "comm_s", trace.comm_s);
    const double loss = number(line, "loss", NAN);
    if (std::isfinite(loss)) trace.losses.push_back({step, t, loss});
    const double acc = number(line, "test_acc", NAN);
    if (std::isfinite(acc)) trace.evals.push_back({step, t, acc, trace.bytes_sent});
  }
  if (!first_step_seen && start_from) trace.first_step = *start_from;
  return trace;
}

ParamDivergence param_divergence(const std::vector<std::string>& checkpoint_dirs) {
  std::vector<std::vector<float>> params;
  for (const auto& dir : checkpoint_dirs) {
    try {
      if (!std::filesystem::exists(std::filesystem::path(dir) / "checkpoint.bin")) continue;
      if (auto state = CheckpointStore(dir).load()) params.push_back(std::move(state->params));
    } catch (const std::exception&) {
      // An unreadable checkpoint leaves that peer out.
    }
  }
  ParamDivergence d;
  if (params.size() < 2) return d;
  for (const auto& p : params)
    if (p.size() != params.front().size() || p.empty()) return d;
  double norm_sum = 0;
  for (const auto& p : params) {
    double s = 0;
    for (float v : p) s += static_cast<double>(v) * v;
    norm_sum += std::sqrt(s);
  }
  double worst = 0;
  for (std::size_t i = 0; i < params.size(); ++i)
    for (std::size_t j = i + 1; j < params.size(); ++j) {
      double s = 0;
      for (std::size_t k = 0; k < params[i].size(); ++k) {
        const double diff = static_cast<double>(params[i][k]) - params[j][k];
        s += diff * diff;
      }
      worst = std::max(worst, std::sqrt(s));
    }
  const double mean_norm = norm_sum / static_cast<double>(params.size());
  d.max_distance = worst;
  d.relative = mean_norm > 0 ? worst / mean_norm : NAN;
  d.compared = static_cast<int>(params.size());
  return d;
}

void write_run_record(const std::string& run_dir, const RunResult& run) {
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& p : run.peers)
    peers.push_back({{"peer", p.index},
                     {"started_s", std::isfinite(p.started_s) ? nlohmann::json(p.started_s) : nlohmann::json()},
                     {"joined_late", p.joined_late},
                     {"killed_by_fault", p.killed_by_fault},
                     {"exit_code", p.exit_code}});
  const nlohmann::json record = {{"strategy", run.strategy},
                                 {"repeat", run.repeat},
                                 {"status", run.status},
                                 {"reason", run.reason},
                                 {"wall_s", std::isfinite(run.wall_s) ? nlohmann::json(run.wall_s) : nlohmann::json()},
                                 {"peers", peers}};
  std::ofstream(run_dir + "/run.json") << record.dump(2) << "\n";
}

std::optional<RunResult> read_run_record(const std::string& run_dir) {
  std::ifstream in(run_dir + "/run.json");
  if (!in) return std::nullopt;
  const auto record = nlohmann::json::parse(in, nullptr, false);
  if (record.is_discarded() || !record.is_object() || !record.contains("peers") || !record["peers"].is_array())
    return std::nullopt;
  RunResult r;
  r.strategy = record.value("strategy", "");
  r.repeat = record.value("repeat", 0);
  r.status = record.value("status", "ok");
  r.reason = record.value("reason", "");
  r.wall_s = number(record, "wall_s", NAN);
  std::vector<std::string> finished;
  for (const auto& p : record["peers"]) {
    if (!p.is_object()) continue;
    const int index = p.value("peer", 0);
    const double started = number(p, "started_s", NAN);
    PeerTrace t = read_peer_trace(run_dir + "/peer" + std::to_string(index) + ".jsonl",
                                  std::isfinite(started) ? started : 0.0);
    t.index = index;
    t.started_s = started;
    t.joined_late = p.value("joined_late", false);
    t.killed_by_fault = p.value("killed_by_fault", false);
    t.exit_code = p.value("exit_code", -1);
    t.checkpoint_dir = run_dir + "/peer" + std::to_string(index);
    if (t.done && !t.killed_by_fault) finished.push_back(t.checkpoint_dir);
    r.peers.push_back(std::move(t));
  }
  r.divergence = param_divergence(finished);
  return r;
}

double time_to_target(const RunResult& run, double target) {
  double latest = NAN;
  int finished = 0;
  for (const auto& p : run.peers) {
    if (!p.done || p.killed_by_fault) continue;
    ++finished;
    double first = NAN;
    for (const auto& e : p.evals)
      if (e.acc >= target) {
        first = e.t_s;
        break;
      }
    if (!std::isfinite(first)) return NAN;
    latest = std::isfinite(latest) ? std::max(latest, first) : first;
  }
  return finished > 0 ? latest : NAN;
}

StrategySummary summarize(const std::string& strategy, const std::vector<RunResult>& runs, double target) {
  StrategySummary s;
  s.strategy = strategy;
  s.status = "ok";
  std::vector<double> accs, speeds, bytes_per_step, idle, walls, times, starts;
  std::map<std::int64_t, Accumulator> loss_step;
  for (const auto& run : runs) {
    ++s.runs;
    if (run.status == "ok") ++s.runs_ok;
    else if (s.status == "ok") {
      s.status = run.status;
      s.note = run.reason;
    }
    if (std::isfinite(run.wall_s) && run.status != "unavailable" && run.status != "not run")
      walls.push_back(run.wall_s);
    double start = NAN;
    for (const auto& p : run.peers)
      if (!p.joined_late && std::isfinite(p.first_step_t_s))
        start = std::isfinite(start) ? std::max(start, p.first_step_t_s) : p.first_step_t_s;
    if (std::isfinite(start)) starts.push_back(start);
    const double ttt = time_to_target(run, target);
    if (std::isfinite(ttt)) {
      times.push_back(ttt);
      ++s.target_reached_runs;
    }
    if (std::isfinite(run.divergence.relative))
      s.divergence_rel = std::isfinite(s.divergence_rel) ? std::max(s.divergence_rel, run.divergence.relative)
                                                         : run.divergence.relative;
    if (std::isfinite(run.divergence.max_distance))
      s.divergence_abs = std::isfinite(s.divergence_abs) ? std::max(s.divergence_abs, run.divergence.max_distance)
                                                         : run.divergence.max_distance;
    for (const auto& p : run.peers) {
      for (const auto& l : p.losses) {
        auto& a = loss_step[l.step];
        a.x += static_cast<double>(l.step), a.y += l.loss, ++a.n;
      }
      if (!p.done || p.killed_by_fault) continue;
      ++s.peers_finished;
      if (std::isfinite(p.final_acc)) accs.push_back(p.final_acc);
      const auto steps = static_cast<double>(p.steps - p.first_step);
      if (std::isfinite(p.wall_s) && p.wall_s > 0 && steps > 0) {
        speeds.push_back(steps / p.wall_s);
        idle.push_back(std::clamp(p.idle_s / p.wall_s, 0.0, 1.0));
      }
      if (steps > 0) bytes_per_step.push_back(p.bytes_sent / steps);
    }
  }
  if (!accs.empty()) {
    s.acc_mean = mean_of(accs);
    double var = 0;
    for (double a : accs) var += (a - s.acc_mean) * (a - s.acc_mean);
    s.acc_std = accs.size() > 1 ? std::sqrt(var / static_cast<double>(accs.size() - 1)) : 0.0;
    s.acc_min = *std::min_element(accs.begin(), accs.end());
    s.acc_max = *std::max_element(accs.begin(), accs.end());
  }
  s.time_to_target_s = mean_of(times);
  s.steps_per_s = mean_of(speeds);
  s.bytes_per_peer_step = mean_of(bytes_per_step);
  s.idle_fraction = mean_of(idle);
  s.wall_s = mean_of(walls);
  s.start_s = mean_of(starts);
  // Repeats start and stall at different times: averaging their curves in time would mix
  // phases, so the accuracy curves show one run, the first that finished cleanly (else the
  // first with any evaluation).
  const RunResult* shown = nullptr;
  for (const auto& run : runs)
    if (run.status == "ok" && !shown) shown = &run;
  for (const auto& run : runs)
    for (const auto& p : run.peers)
      if (!shown && !p.evals.empty()) shown = &run;
  if (shown) {
    accuracy_curves({*shown}, s);
    s.curves_repeat = shown->repeat;
  }
  for (const auto& [step, a] : loss_step) s.loss_vs_step.push_back({a.x / a.n, a.y / a.n});
  return s;
}

}  // namespace chorus::tools
